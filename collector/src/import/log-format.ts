/**
 * Access-log formats for `stint import-logs`: named presets, a format string in Apache `LogFormat` or
 * nginx `log_format` syntax, a regular expression with named groups (Matomo's `--log-format-regex`),
 * and JSON lines with named fields. Each compiles once to a `LineFormat` whose `parse` turns one line
 * into a `LogEntry` or names why it could not (counted by reason in the import's summary).
 *
 * Pure: no I/O. The combined/common presets use the hand-tuned parser in log-line.ts (the common case
 * and the one the 1M-line benchmark measures); everything else goes through `fromFields`.
 */
import { type LogEntry, parseCombinedLine, parseLogTime, unescapeLog } from './log-line.ts';

/** Why a line gave no entry. */
export type ParseFailure =
  | 'no_match'
  | 'bad_json'
  | 'no_time'
  | 'bad_time'
  | 'no_ip'
  | 'bad_request'
  | 'bad_status';

export interface LineFormat {
  /** What the summary calls it: a preset name, `custom`, `regex` or `json`. */
  name: string;
  /** Whether lines carry a virtual host (needed by --host and --vhost-map). */
  hasHost: boolean;
  /**
   * Whether lines carry the user agent. When they do, an empty one is a script and skipped as a bot;
   * formats without it (`common`) keep their lines (the visitor is then the address alone).
   */
  hasUserAgent: boolean;
  parse(line: string): LogEntry | ParseFailure;
}

/** The fields a format can fill; `xff` is X-Forwarded-For (its first address wins over `ip`). */
type Field =
  | 'ip'
  | 'xff'
  | 'time'
  | 'request'
  | 'method'
  | 'target'
  | 'path'
  | 'query'
  | 'status'
  | 'referrer'
  | 'userAgent'
  | 'host'
  | 'timezone';
type Raw = Partial<Record<Field, string>>;

export const PRESETS: Record<string, string> = {
  combined: '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"',
  common: '%h %l %u %t "%r" %>s %b',
  vhost_combined: '%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"',
  /** nginx's default `combined` plus the virtual host in front (a common custom format). */
  nginx_vhost:
    '$host $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"',
};

export function formatNames(): string[] {
  return [...Object.keys(PRESETS), 'json'];
}

export interface FormatSpec {
  /** A preset (`combined`, `common`, `vhost_combined`, `nginx_vhost`, `json`); default `combined`. */
  format?: string;
  /** Apache `LogFormat` or nginx `log_format` string; wins over `format`. */
  formatString?: string;
  /** A regular expression with named groups (`(?P<name>…)` is read as `(?<name>…)`). */
  formatRegex?: string;
  /** JSON lines: field → dotted path, e.g. `{ ip: 'request.remote_ip' }`, over the defaults. */
  jsonFields?: Record<string, string>;
}

export function lineFormat(spec: FormatSpec): LineFormat {
  if (spec.formatRegex !== undefined) return regexFormat(spec.formatRegex);
  if (spec.formatString !== undefined) return formatString(spec.formatString, 'custom');
  const name = spec.format ?? 'combined';
  if (name === 'json') return jsonFormat(spec.jsonFields ?? {});
  // combined and common (and nginx's combined with fields after it) share the fast parser: it stops
  // after the user agent and takes common lines, whose referrer and agent are absent.
  if (name === 'combined' || name === 'common') {
    return {
      name,
      hasHost: false,
      hasUserAgent: name === 'combined',
      parse: (line) => parseCombinedLine(line) ?? 'no_match',
    };
  }
  const preset = PRESETS[name];
  if (preset === undefined) {
    throw new Error(
      `unknown log format "${name}" (known: ${formatNames().join(', ')}; or give --log-format)`,
    );
  }
  return formatString(preset, name);
}

// ---------------------------------------------------------------------------------------------------
// Format strings

/** Apache directives (`%h`, `%>s`, `%{Referer}i`, `%400,501{User-agent}i`) and nginx variables. */
const TOKEN = /%%|%[<>!,\d]*(?:\{([^}]*)\})?([a-zA-Z])|\$\{?([a-zA-Z_][a-zA-Z0-9_]*)\}?/g;

const APACHE: Record<string, Field> = {
  h: 'ip',
  a: 'ip',
  t: 'time',
  r: 'request',
  m: 'method',
  U: 'path',
  q: 'query',
  s: 'status',
  v: 'host',
  V: 'host',
};
const APACHE_HEADERS: Record<string, Field> = {
  referer: 'referrer',
  'user-agent': 'userAgent',
  host: 'host',
  'x-forwarded-for': 'xff',
};
const NGINX: Record<string, Field> = {
  remote_addr: 'ip',
  realip_remote_addr: 'ip',
  http_x_forwarded_for: 'xff',
  time_local: 'time',
  time_iso8601: 'time',
  msec: 'time',
  request: 'request',
  request_method: 'method',
  request_uri: 'target',
  uri: 'path',
  document_uri: 'path',
  args: 'query',
  query_string: 'query',
  status: 'status',
  http_referer: 'referrer',
  http_user_agent: 'userAgent',
  host: 'host',
  http_host: 'host',
  server_name: 'host',
};

function fieldOf(
  header: string | undefined,
  letter: string | undefined,
  variable: string | undefined,
): Field | null {
  if (variable !== undefined) return NGINX[variable] ?? null;
  if (letter === 'i' && header !== undefined) return APACHE_HEADERS[header.toLowerCase()] ?? null;
  if (letter === 'a' && header !== undefined) return header === 'c' ? 'ip' : null;
  if (letter === 't' && header !== undefined) {
    if (header === 'sec' || header === 'msec' || header === 'usec') return 'time';
    throw new Error(`%{${header}}t: only %t, %{sec}t, %{msec}t and %{usec}t times are supported`);
  }
  if (letter === undefined || header !== undefined) return null;
  return APACHE[letter] ?? null;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Compiles a format string to a regular expression: literal text must appear as written (a run of
 * spaces matches one or more), each field captures up to the next literal character (inside quotes:
 * up to the closing quote, skipping escaped ones), Apache's `%t` includes its brackets, and the last
 * field takes the rest of the line.
 */
export function formatString(format: string, name: string): LineFormat {
  const parts: ({ text: string } | { field: Field | null; bracketed: boolean })[] = [];
  let last = 0;
  for (const m of format.matchAll(TOKEN)) {
    if (m.index > last) parts.push({ text: format.slice(last, m.index) });
    if (m[0] === '%%') parts.push({ text: '%' });
    else parts.push({ field: fieldOf(m[1], m[2], m[3]), bracketed: m[2] === 't' && m[1] === undefined });
    last = m.index + m[0].length;
  }
  if (last < format.length) parts.push({ text: format.slice(last) });
  const fields: Field[] = [];
  let re = '^';
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] as (typeof parts)[number];
    if ('text' in p) {
      re += escapeRe(p.text).replace(/ +/g, ' +');
      continue;
    }
    const next = parts[i + 1];
    const c = next && 'text' in next ? next.text[0] : undefined;
    let group: string;
    if (p.bracketed) group = '\\[([^\\]]*)\\]';
    else if (c === undefined) group = '(.*)';
    else if (c === '"') group = '((?:[^"\\\\]|\\\\.)*)';
    else if (c === ' ') group = '(\\S*)';
    else group = `([^${escapeRe(c)}]*)`;
    if (p.field === null) group = group.replace('(', '(?:');
    else fields.push(p.field);
    re += group;
  }
  if (!fields.includes('time')) throw new Error(`log format "${format}" has no time field`);
  if (!fields.includes('ip') && !fields.includes('xff'))
    throw new Error(`log format "${format}" has no client address field`);
  if (!fields.some((f) => f === 'request' || f === 'target' || f === 'path')) {
    throw new Error(`log format "${format}" has no request, URI or path field`);
  }
  const regex = new RegExp(re);
  return {
    name,
    hasHost: fields.includes('host'),
    hasUserAgent: fields.includes('userAgent'),
    parse(line) {
      const m = regex.exec(line);
      if (!m) return 'no_match';
      const raw: Raw = {};
      for (let i = 0; i < fields.length; i++) raw[fields[i] as Field] = m[i + 1];
      return fromFields(raw);
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Named-group regular expressions (Matomo's --log-format-regex)

const GROUPS: Record<string, Field> = {
  ip: 'ip',
  time: 'time',
  date: 'time',
  timestamp: 'time',
  timezone: 'timezone',
  request: 'request',
  method: 'method',
  path: 'target',
  target: 'target',
  url: 'target',
  query: 'query',
  status: 'status',
  referrer: 'referrer',
  referer: 'referrer',
  user_agent: 'userAgent',
  host: 'host',
};

export function regexFormat(source: string): LineFormat {
  let regex: RegExp;
  try {
    regex = new RegExp(source.replace(/\(\?P</g, '(?<'));
  } catch (err) {
    throw new Error(`--log-format-regex: ${(err as Error).message}`);
  }
  const names = [...source.matchAll(/\(\?P?<([a-zA-Z_]\w*)>/g)].map((m) => m[1] as string);
  const mapped = names.filter((n) => GROUPS[n] !== undefined);
  for (const need of [['ip'], ['time', 'date', 'timestamp'], ['request', 'path', 'target', 'url']]) {
    if (!need.some((n) => mapped.includes(n))) {
      throw new Error(`--log-format-regex needs a named group ${need.map((n) => `(?<${n}>…)`).join(' or ')}`);
    }
  }
  return {
    name: 'regex',
    hasHost: mapped.includes('host'),
    hasUserAgent: mapped.includes('user_agent'),
    parse(line) {
      const groups = regex.exec(line)?.groups;
      if (!groups) return 'no_match';
      const raw: Raw = {};
      for (const n of mapped) {
        const v = groups[n];
        if (v !== undefined) raw[GROUPS[n] as Field] = v;
      }
      return fromFields(raw);
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// JSON lines

/** Where each field is looked for by default (first present wins): nginx's and common loggers' names. */
const JSON_DEFAULTS: Record<Field, string[]> = {
  ip: ['remote_addr', 'ip', 'client_ip', 'clientip', 'remote_ip', 'request.remote_ip'],
  xff: ['http_x_forwarded_for', 'x_forwarded_for'],
  time: ['time', 'timestamp', '@timestamp', 'time_iso8601', 'time_local', 'ts', 'date', 'msec'],
  timezone: [],
  request: ['request'],
  method: ['method', 'request_method', 'request.method'],
  target: ['request_uri', 'uri', 'url', 'path', 'request.uri'],
  path: [],
  query: ['args', 'query_string', 'query'],
  status: ['status', 'status_code', 'response_status'],
  referrer: ['http_referer', 'referer', 'referrer', 'request.headers.Referer'],
  userAgent: ['http_user_agent', 'user_agent', 'useragent', 'agent', 'request.headers.User-Agent'],
  host: ['host', 'vhost', 'server_name', 'http_host', 'request.host'],
};

const FIELD_NAMES: Record<string, Field> = {
  ip: 'ip',
  forwarded_for: 'xff',
  time: 'time',
  request: 'request',
  method: 'method',
  uri: 'target',
  path: 'target',
  query: 'query',
  status: 'status',
  referrer: 'referrer',
  user_agent: 'userAgent',
  host: 'host',
};

export function jsonFieldNames(): string[] {
  return Object.keys(FIELD_NAMES);
}

function lookup(obj: unknown, path: string): unknown {
  if (obj === null || typeof obj !== 'object') return undefined;
  const o = obj as Record<string, unknown>;
  if (path in o) return o[path];
  const dot = path.indexOf('.');
  return dot < 0 ? undefined : lookup(o[path.slice(0, dot)], path.slice(dot + 1));
}

function scalar(v: unknown): string | undefined {
  if (Array.isArray(v)) return scalar(v[0]);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

export function jsonFormat(overrides: Record<string, string>): LineFormat {
  const paths: Record<Field, string[]> = { ...JSON_DEFAULTS };
  for (const [name, path] of Object.entries(overrides)) {
    const field = FIELD_NAMES[name];
    if (field === undefined) {
      throw new Error(`--json-fields: unknown field "${name}" (known: ${jsonFieldNames().join(', ')})`);
    }
    paths[field] = [path];
  }
  const entries = Object.entries(paths) as [Field, string[]][];
  return {
    name: 'json',
    hasHost: paths.host.length > 0,
    hasUserAgent: paths.userAgent.length > 0,
    parse(line) {
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch {
        return 'bad_json';
      }
      if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return 'bad_json';
      const raw: Raw = {};
      for (const [field, candidates] of entries) {
        for (const p of candidates) {
          const v = scalar(lookup(obj, p));
          if (v !== undefined) {
            raw[field] = v;
            break;
          }
        }
      }
      return fromFields(raw);
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Fields → entry

const CLF_NO_ZONE = /^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2}$/;
const ZONE = /^([+-])(\d{2}):?(\d{2})$/;

/**
 * A logged time: CLF (`10/Oct/2000:13:55:36 -0700`, with or without brackets or zone), ISO 8601, or
 * epoch seconds (`$msec`, `%{sec}t`, fractions allowed), milliseconds or microseconds by magnitude.
 * A time without a zone is read as UTC unless `timezone` (±HHMM) is given.
 */
export function parseAnyTime(text: string, timezone?: string): number {
  const t = text.trim().replace(/^\[|\]$/g, '');
  if (/^\d+(\.\d+)?$/.test(t)) {
    const n = Number(t);
    if (n < 1e11) return Math.round(n * 1000);
    if (n < 1e14) return Math.round(n);
    return Math.round(n / 1000);
  }
  if (CLF_NO_ZONE.test(t)) return parseLogTime(`${t} ${timezone ?? '+0000'}`);
  if (/^\d{2}\/[A-Z]/.test(t)) return parseLogTime(t);
  if (/^\d{4}-\d{2}-\d{2}/.test(t)) {
    const zoned = /(?:Z|[+-]\d{2}:?\d{2})$/.test(t);
    const z = timezone !== undefined ? ZONE.exec(timezone) : null;
    const iso = t.replace(' ', 'T');
    if (zoned) return Date.parse(iso);
    return Date.parse(`${iso}${z ? `${z[1]}${z[2]}:${z[3]}` : 'Z'}`);
  }
  return Number.NaN;
}

function clean(v: string | undefined): string {
  if (v === undefined) return '';
  const t = unescapeLog(v);
  return t === '-' ? '' : t;
}

/**
 * Builds the entry from what a format captured. Without a method the line counts as a GET, without a
 * status as a 200 (a format that logs neither is taken to log page requests only).
 */
export function fromFields(raw: Raw): LogEntry | ParseFailure {
  if (raw.time === undefined || raw.time === '' || raw.time === '-') return 'no_time';
  const ts = parseAnyTime(raw.time, raw.timezone);
  if (!Number.isFinite(ts)) return 'bad_time';
  const forwarded = clean(raw.xff).split(',')[0]?.trim() ?? '';
  const ip = forwarded !== '' ? forwarded : clean(raw.ip);
  if (ip === '') return 'no_ip';
  let method = clean(raw.method);
  let target = clean(raw.target);
  if (raw.request !== undefined) {
    const request = clean(raw.request).split(' ');
    if (request.length < 2) return 'bad_request';
    method = request[0] as string;
    target = request[1] as string;
  } else {
    if (target === '') target = clean(raw.path);
    const query = clean(raw.query);
    if (query !== '' && query !== '?' && !target.includes('?')) {
      target += query.startsWith('?') ? query : `?${query}`;
    }
  }
  if (target === '') return 'bad_request';
  let status = 200;
  if (raw.status !== undefined) {
    if (!/^\d{3}$/.test(raw.status)) return 'bad_status';
    status = Number(raw.status);
  }
  const entry: LogEntry = {
    ip,
    ts,
    method: method === '' ? 'GET' : method.toUpperCase(),
    target,
    status,
    referrer: clean(raw.referrer),
    userAgent: clean(raw.userAgent),
  };
  const host = clean(raw.host);
  if (host !== '') entry.host = normalHost(host);
  return entry;
}

/** `WWW.Example.com:443` → `www.example.com`; IPv6 literals keep their brackets. */
export function normalHost(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.indexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

/**
 * Generated malformed and hostile requests for the fuzz run, from a seeded generator so a failing
 * run can be replayed (`FUZZ_SEED`). Every case states what a correct service answers:
 * - `reject`: a 4xx. Collector cases are checked by an oracle written from the event contract (the
 *   zod schemas plus the collector's extra rules: registered site, http(s) URL, batch site, ts bounds,
 *   well-formed Unicode, Fastify's refusal of `__proto__`/`constructor.prototype` keys) and a candidate
 *   the oracle finds valid is discarded, so nothing valid-by-construction lands in the bad set.
 * - `dropped`: a valid request from a bot: 2xx with nothing accepted (202 `{accepted: 0}`, or the pixel).
 * - `ok`: an api read that is valid but hostile (injection strings, control characters and broken
 *   bytes as filter values) with site A's read token: 200, and never a byte of site B's data.
 */

import { BREAKDOWNS as API_BREAKDOWNS, FILTER_KEYS } from '@stint/api/queries';
import { BrowserEventSchema, ServerBatchSchema } from '@stint/collector/contract';
import { Random } from '@stint/infra/testing';
import type { FuzzRequest } from './fuzz-http.ts';

export type Expectation = 'reject' | 'dropped' | 'ok';

export interface FuzzCase {
  /** `<target>:<class>`, the row of the counts table. */
  cls: string;
  target: 'collector' | 'api';
  req: FuzzRequest;
  expect: Expectation;
  /** Malformed HTTP: the server may also just close the connection (Node does for some parse errors). */
  allowClose?: boolean;
}

export interface FuzzContext {
  siteA: string;
  siteB: string;
  /** Registered sites (the oracle's notion of a known site). */
  registered: string[];
  ingestA: string;
  readA: string;
  ingestB: string;
  /** The api's own origin (`http://127.0.0.1:port`): sign-in refuses other origins before reading a body. */
  apiOrigin: string;
  /** Does the api serve this (decoded, normalised) path as a public dashboard file? */
  publicFile: (path: string) => boolean;
  now: number;
  /** Strings only site B's data contains: never generated here. */
  needles: string[];
}

export const DESKTOP_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const BOT_UAS = [
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
  'curl/8.5.0',
  'python-requests/2.32.3',
];

/** The shared seeded PRNG, plus generators of hostile text. */
export class Rng extends Random {
  /** Random text: ASCII, control characters, astral and RTL characters, lone surrogates. */
  text(maxLength: number): string {
    const n = this.int(0, maxLength);
    let s = '';
    for (let i = 0; i < n; i++) {
      const kind = this.int(0, 9);
      if (kind < 5) s += String.fromCharCode(this.int(0x20, 0x7e));
      else if (kind === 5) s += String.fromCharCode(this.int(0, 0x1f));
      else if (kind === 6) s += String.fromCodePoint(this.int(0x80, 0x2fff));
      else if (kind === 7) s += String.fromCodePoint(this.int(0x1f300, 0x1f6ff));
      else if (kind === 8) s += this.pick(['\u202e', '\ufeff', '\u200b', '\uffff', '\ufffd']);
      else s += String.fromCharCode(this.int(0xd800, 0xdfff));
    }
    return s;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(0, 255);
    return b;
  }
}

/** Injection strings and other classics; none of them is a valid site, URL or visitor id on its own. */
export const HOSTILE = [
  "' OR '1'='1",
  "'; DROP TABLE events_raw; --",
  "\\' OR 1=1 --",
  '1) UNION ALL SELECT name, engine FROM system.tables --',
  "' UNION SELECT site_id, path FROM events_raw --",
  "') OR site_id != '",
  "x' AND sleep(3) AND '",
  "\\'; SELECT * FROM system.users; --",
  ' FORMAT JSON',
  ' SETTINGS readonly=0',
  '/* */ OR 1=1',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4shell probe, not a template
  '${jndi:ldap://127.0.0.1/a}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  '$(reboot)',
  '`id`',
  '; cat /etc/passwd',
  '../../../../etc/passwd',
  '..\\..\\..\\windows\\win.ini',
  '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '\\',
  "\\\\'",
  "'",
  '"',
  '\u0000',
  'a\u0000b',
  '\r\nSet-Cookie: evil=1',
  '\u202egnp.exe',
  '\ufeff',
  '🤖🤖🤖',
  'NaN',
  'Infinity',
  '-1',
  '1e309',
  'null',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  '%00',
  '%ff%fe',
  '\ud800',
  '\udfff\ud800',
];

// ------------------------------------------------------------------------------------------ oracle

function wellFormed(value: unknown): boolean {
  if (typeof value === 'string') return value.isWellFormed();
  if (Array.isArray(value)) return value.every(wellFormed);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).every(([k, v]) => k.isWellFormed() && wellFormed(v));
  }
  return true;
}

function httpUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/** What Fastify's JSON parser (secure-json-parse, protoAction and constructorAction 'error') accepts. */
function parseLikeFastify(text: string): { ok: true; value: unknown } | { ok: false } {
  let value: unknown;
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch {
    return { ok: false };
  }
  if (text.includes('__proto__') || text.includes('constructor')) {
    const stack = [value];
    while (stack.length) {
      const v = stack.pop();
      if (v === null || typeof v !== 'object') continue;
      if (Object.hasOwn(v, '__proto__')) return { ok: false };
      const c = (v as Record<string, unknown>).constructor;
      if (
        Object.hasOwn(v, 'constructor') &&
        c !== null &&
        typeof c === 'object' &&
        Object.hasOwn(c, 'prototype')
      )
        return { ok: false };
      stack.push(...Object.values(v));
    }
  }
  return { ok: true, value };
}

/** Would the collector accept this body on POST /api/event (or the pixel's candidate event)? */
export function liveEventAccepted(body: unknown, ctx: FuzzContext): boolean {
  const r = BrowserEventSchema.safeParse(body);
  return r.success && wellFormed(r.data) && httpUrl(r.data.url) && ctx.registered.includes(r.data.site);
}

/** Would the collector accept this batch with this Authorization header? */
export function batchAccepted(body: unknown, authorization: string | undefined, ctx: FuzzContext): boolean {
  const token = /^Bearer\s+(\S+)$/i.exec((authorization ?? '').trim())?.[1];
  if (token === undefined) return false;
  const r = ServerBatchSchema.safeParse(body);
  if (!r.success || !wellFormed(r.data)) return false;
  const tokenSite = token === ctx.ingestA ? ctx.siteA : token === ctx.ingestB ? ctx.siteB : null;
  if (tokenSite !== r.data.site) return false;
  return r.data.events.every((e) => {
    if (e.site !== r.data.site || !httpUrl(e.url)) return false;
    if (e.visitor_id === undefined && e.ip === undefined) return false;
    if (e.ts === undefined) return true;
    const ms = typeof e.ts === 'number' ? e.ts : Date.parse(e.ts);
    // A margin around the collector's bounds (60 s skew, 730 days): only clear cases count as bad.
    return Number.isFinite(ms) && ms <= ctx.now + 50_000 && ms >= ctx.now - 729 * 86_400_000;
  });
}

function bodyValue(body: Buffer | string): { ok: true; value: unknown } | { ok: false } {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  return parseLikeFastify(text);
}

// ------------------------------------------------------------------------------------ generators

const CONTENT_TYPES = [
  'application/json',
  'text/plain',
  'text/plain;charset=UTF-8',
  'application/json; charset=latin1',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/xml',
  'application/octet-stream',
  'image/png',
  '',
];

/** Percent-encodes every byte of the UTF-8 form except unreserved characters. */
export function pct(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9_.~-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function nested(depth: number, leaf: string): string {
  return `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}`;
}

class Builder {
  readonly cases: FuzzCase[] = [];
  discarded = 0;
  constructor(
    readonly rng: Rng,
    readonly ctx: FuzzContext,
  ) {}

  add(c: FuzzCase): void {
    const text = `${c.req.path}${c.req.raw?.toString('latin1') ?? ''}${c.req.body?.toString() ?? ''}${Object.values(c.req.headers ?? {}).join()}`;
    // The leak check looks for these in answers; a request must never carry them itself.
    if (this.ctx.needles.some((n) => text.includes(n))) throw new Error(`case carries a needle: ${c.cls}`);
    this.cases.push(c);
  }

  baseEvent(site = this.ctx.siteA): Record<string, unknown> {
    return {
      site,
      name: this.rng.pick(['pageview', 'engagement', 'signup']),
      url: `https://${site}/${this.rng.pick(['', 'pricing', 'docs/a'])}`,
      visitor_id: `fuzzvisitor${this.rng.int(1000, 9999)}`,
    };
  }

  /** A value that is wrong for `field` of a browser event. */
  badValue(field: string): unknown {
    const r = this.rng;
    const h = () => r.pick(HOSTILE);
    const wrongType = () => r.pick<unknown>([r.int(-5, 5), null, true, [h()], { x: h() }, 1.5, []]);
    switch (field) {
      case 'site':
        return r.pick<() => unknown>([
          h,
          () => 'unregistered-fuzz.test',
          () => this.ctx.siteA.toUpperCase(),
          () => `${this.ctx.siteA}\u0000`,
          () => `${this.ctx.siteA} `,
          () => '*',
          () => '',
          () => 'a'.repeat(r.int(254, 5000)),
          () => r.text(40),
          wrongType,
        ])();
      case 'name':
        return r.pick<() => unknown>([
          () => '',
          () => 'n'.repeat(r.int(121, 20_000)),
          () => `${h()}${String.fromCharCode(r.int(0, 0x1f))}`,
          () => `page\nview`,
          wrongType,
        ])();
      case 'url':
        return r.pick<() => unknown>([
          h,
          () => 'javascript:alert(document.cookie)',
          () => 'file:///etc/passwd',
          () => 'data:text/html,<script>alert(1)</script>',
          () => 'ftp://alpha.test/x',
          () => 'ws://alpha.test/',
          () => 'about:blank',
          () => 'http://',
          () => '//alpha.test/x',
          () => 'alpha.test/x',
          () => 'http://[::1',
          () => 'https://alpha.test:99999/',
          () => `https://alpha.test/${'p'.repeat(r.int(2048, 70_000))}`,
          () => r.text(60),
          wrongType,
        ])();
      case 'referrer':
        return r.pick<() => unknown>([
          () => `https://r.example/${'q'.repeat(r.int(2049, 30_000))}`,
          wrongType,
        ])();
      case 'visitor_id':
        return r.pick<() => unknown>([
          () => `${h()}xxxxxxxx`,
          () => 'short',
          () => 'v'.repeat(r.int(65, 5000)),
          () => `visitor-${r.text(12)}!`,
          wrongType,
        ])();
      case 'engaged_ms':
        return r.pick<unknown>([-1, 1.5, 86_400_001, 1e300, '100', null, [], { $gt: 0 }]);
      case 'scroll_depth':
        return r.pick<unknown>([101, -5, 50.5, '50', null, true]);
      case 'props': {
        return r.pick<() => unknown>([
          () => Object.fromEntries(Array.from({ length: r.int(31, 300) }, (_, i) => [`k${i}`, i])),
          () => ({ ['k'.repeat(r.int(65, 2000))]: 'v' }),
          () => ({ '': 'v' }),
          () => ({ plan: 'v'.repeat(r.int(513, 60_000)) }),
          () => ({ plan: { nested: h() } }),
          () => ({ plan: [h()] }),
          () => ({ plan: null }),
          () => [h()],
          () => h(),
          () => ({ [r.text(10) || 'x']: `${r.text(20)}\ud800` }),
        ])();
      }
      default:
        return wrongType();
    }
  }

  /** A browser-event body with exactly one kind of damage, as a JS value (serialized by the caller). */
  badEventValue(): unknown {
    const r = this.rng;
    const e = this.baseEvent();
    const kind = r.int(0, 12);
    if (kind <= 8) {
      const field = r.pick([
        'site',
        'name',
        'url',
        'referrer',
        'visitor_id',
        'engaged_ms',
        'scroll_depth',
        'props',
      ]);
      e[field] = this.badValue(field);
      return e;
    }
    if (kind === 9) {
      delete e[r.pick(['site', 'name', 'url'])];
      return e;
    }
    if (kind === 10) {
      e[r.pick(['site_id', 'ts', 'ip', 'user_agent', 'event_id', 'admin', 'session_id', r.text(8) || 'x'])] =
        r.pick(HOSTILE);
      return e;
    }
    if (kind === 11) return r.pick<unknown>([[e], r.int(0, 9), r.pick(HOSTILE), null, true, []]);
    return { ...e, site: r.pick(['beta.test.', 'unregistered.test', 'null', 'constructor', 'prototype']) };
  }

  /** JSON text for a damaged event, sometimes damaged as text rather than as a value. */
  badEventText(): string {
    const r = this.rng;
    const kind = r.int(0, 9);
    const valid = JSON.stringify(this.baseEvent());
    if (kind <= 4) return JSON.stringify(this.badEventValue());
    if (kind === 5) return valid.slice(0, r.int(0, valid.length - 1));
    if (kind === 6) return `${valid}${r.pick(['}', ',', 'x', ' {}', '\u0000', '//'])}`;
    if (kind === 7) {
      const e = this.baseEvent();
      return r.pick([
        JSON.stringify(e).replace('{', '{"__proto__":{"polluted":"yes"},'),
        JSON.stringify(e).replace('{', '{"constructor":{"prototype":{"polluted":"yes"}},'),
        JSON.stringify({ ...e, props: { a: 1 } }).replace('"a":1', '"__proto__":{"isAdmin":true}'),
        JSON.stringify({ ...e, props: { a: 1 } }).replace('"a":1', '"constructor":{"prototype":{"x":1}}'),
      ]);
    }
    if (kind === 8) {
      return r.pick([
        `{'site':'${this.ctx.siteA}'}`,
        '{"site":"alpha.test",}',
        '{"engaged_ms": NaN}',
        '{"engaged_ms": 1e309, "site": 1}',
        '',
        '   ',
        'null',
        `site=${this.ctx.siteA}&name=pageview`,
        '<event><site>alpha.test</site></event>',
        '\ufeff',
      ]);
    }
    // Deep nesting: as the whole body or as a prop value.
    const depth = r.pick([100, 1000, 10_000, 30_000]);
    return r.chance(0.5)
      ? nested(depth, '1')
      : JSON.stringify({ ...this.baseEvent(), props: { deep: 0 } }).replace('0', nested(depth, '"x"'));
  }

  /** Raw bytes: JSON with broken UTF-8 inside a field that must then fail, or in the structure. */
  brokenUtf8Body(): Buffer {
    const r = this.rng;
    const broken = () =>
      r.pick([
        Buffer.from([0xff]),
        Buffer.from([0xfe, 0xff]),
        Buffer.from([0xc0, 0xaf]), // overlong '/'
        Buffer.from([0xe0, 0x80, 0xaf]),
        Buffer.from([0xed, 0xa0, 0x80]), // CESU surrogate
        Buffer.from([0x80, 0x80]),
        Buffer.from([0xf4, 0x90, 0x80, 0x80]), // beyond U+10FFFF
        Buffer.from([0xe2, 0x82]), // truncated
        r.bytes(r.int(1, 16)),
      ]);
    const e = this.baseEvent();
    const where = r.pick(['site', 'visitor_id', 'structure', 'key', 'url-scheme']);
    if (where === 'structure') {
      const text = JSON.stringify(e);
      const at = r.int(0, text.length);
      return Buffer.concat([
        Buffer.from(text.slice(0, at)),
        broken(),
        Buffer.from([0x7b]),
        Buffer.from(text.slice(at)),
      ]);
    }
    const marker = 'BROKENBYTES';
    if (where === 'key') e[marker] = 1;
    else if (where === 'url-scheme') e.url = `${marker}://alpha.test/`;
    else e[where] = `${where === 'site' ? 'alpha' : 'visitor'}${marker}test`;
    const [head, tail] = JSON.stringify(e).split(marker) as [string, string];
    return Buffer.concat([Buffer.from(head), broken(), Buffer.from(tail)]);
  }

  headers(contentType: string | null, ua: string | null = DESKTOP_UA): Record<string, string> {
    const h: Record<string, string> = {};
    if (contentType) h['content-type'] = contentType;
    if (ua !== null) h['user-agent'] = ua;
    return h;
  }

  /** Adds a POST /api/event case when the oracle agrees the body is bad. */
  eventCase(cls: string, body: Buffer | string, contentType: string | null): void {
    const parsed = bodyValue(body);
    if (parsed.ok && liveEventAccepted(parsed.value, this.ctx)) {
      this.discarded++;
      return;
    }
    this.add({
      cls,
      target: 'collector',
      expect: 'reject',
      req: { method: 'POST', path: '/api/event', headers: this.headers(contentType), body },
    });
  }

  badBatchBody(): unknown {
    const r = this.rng;
    const site = this.ctx.siteA;
    const ev = () => ({
      ...this.baseEvent(site),
      ts: this.ctx.now - r.int(0, 3600_000),
      user_agent: DESKTOP_UA,
      event_id: `fuzzev${r.int(1e6, 9e6)}`,
    });
    const one = (patch: Record<string, unknown>) => {
      const e: Record<string, unknown> = { ...ev(), ...patch };
      for (const [k, v] of Object.entries(patch)) if (v === undefined) delete e[k];
      return { site, events: [ev(), e] };
    };
    return r.pick<() => unknown>([
      () => ({ site, events: [] }),
      () => ({ site, events: Array.from({ length: 1001 }, ev) }),
      () => ({ site, events: ev() }),
      () => ({ site, events: [ev()], extra: r.pick(HOSTILE) }),
      () => ({ events: [ev()] }),
      () => ({ site: this.ctx.siteB, events: [ev()] }),
      () => one({ site: this.ctx.siteB }),
      () => one({ ts: this.ctx.now + 3600_000 }),
      () => one({ ts: this.ctx.now + 10 * 365 * 86_400_000 }),
      () => one({ ts: Date.UTC(1990, 0, 1) }),
      () => one({ ts: '2024-13-01T00:00:00Z' }),
      () => one({ ts: r.pick(HOSTILE) }),
      () => one({ ts: -1 }),
      () => one({ ts: 1.5 }),
      () => one({ ts: '1700000000000' }),
      () =>
        one({ ip: r.pick(['999.1.1.1', '::gggg', '1.2.3', '127.0.0.1/8', r.pick(HOSTILE), 'localhost']) }),
      () => one({ visitor_id: undefined }),
      () => one({ user_agent: 'u'.repeat(r.int(1025, 10_000)) }),
      () => one({ event_id: r.pick([...HOSTILE, 'short', 'e'.repeat(65)]) }),
      () => one({ url: r.pick(['javascript:alert(1)', 'file:///etc/passwd', '/relative', r.pick(HOSTILE)]) }),
      () => one({ name: '' }),
      () => one({ props: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i])) }),
      () => one({ site_id: this.ctx.siteB }),
      () => ({ site, events: [{ ...ev(), ...(this.badEventValue() as object) }] }),
      () => [ev()],
    ])();
  }

  authHeader(valid: string): string | undefined {
    const r = this.rng;
    const flip = (t: string) => {
      const i = r.int(7, t.length - 1);
      const c = t[i] === 'a' ? 'b' : 'a';
      return `${t.slice(0, i)}${c}${t.slice(i + 1)}`;
    };
    return r.pick<() => string | undefined>([
      () => undefined,
      () => '',
      () => 'Bearer',
      () => 'Bearer ',
      () => `Basic ${Buffer.from(`admin:${valid}`).toString('base64')}`,
      () => `Token ${valid}`,
      () => `Bearer ${flip(valid)}`,
      () => `Bearer ${valid}x`,
      () => `Bearer ${valid.slice(0, -1)}`,
      () => `Bearer ${valid} ${valid}`,
      () => `Bearer ${valid.replace(/_[^_]+$/, '_')}`,
      () => `Bearer stint_000000000000_${'A'.repeat(43)}`,
      () => `Bearer stint_${'f'.repeat(12)}_${"' OR 1=1 --".padEnd(43, 'x')}`,
      () => `Bearer ${pct(r.pick(HOSTILE))}`,
      () => `Bearer ${'t'.repeat(r.int(100, 8000))}`,
      () => `Bearer ${Buffer.from([0xff, 0xfe, 0xc0, 0xaf]).toString('latin1')}${valid}`,
      () => `Bearer\t${pct(r.pick(HOSTILE))}`,
    ])();
  }
}

// ------------------------------------------------------------------------------ collector classes

export function collectorCases(
  rng: Rng,
  ctx: FuzzContext,
  scale = 1,
): { cases: FuzzCase[]; discarded: number } {
  const b = new Builder(rng, ctx);
  const n = (k: number) => Math.max(1, Math.round(k * scale));

  for (let i = 0; i < n(450); i++) {
    b.eventCase('collector:event json, invalid field', JSON.stringify(b.badEventValue()), 'application/json');
  }
  for (let i = 0; i < n(350); i++) {
    b.eventCase(
      'collector:event text/plain, malformed',
      b.badEventText(),
      rng.pick(['text/plain', 'text/plain;charset=UTF-8']),
    );
  }
  for (let i = 0; i < n(200); i++) {
    b.eventCase(
      'collector:event, broken UTF-8 bytes',
      b.brokenUtf8Body(),
      rng.pick(['text/plain', 'application/json']),
    );
  }
  for (let i = 0; i < n(120); i++) {
    // A lone surrogate escaped in JSON is valid JSON but cannot be stored as UTF-8.
    const e = b.baseEvent();
    const field = rng.pick(['name', 'referrer', 'props']);
    const text = JSON.stringify(
      field === 'props' ? { ...e, props: { k: 'LONE' } } : { ...e, [field]: 'xLONE' },
    );
    b.eventCase(
      'collector:event, lone surrogate escapes',
      text.replace('LONE', rng.pick(['\\ud800', '\\udfff', '\\udbff\\u0041', '\\ud83d'])),
      'application/json',
    );
  }
  for (let i = 0; i < n(150); i++) {
    const body = rng.pick([
      JSON.stringify(b.baseEvent()).replace(/^\{/, '<'),
      `site=${ctx.siteA}&name=pageview&url=https%3A%2F%2Falpha.test%2F`,
      `--xyz\r\nContent-Disposition: form-data; name="site"\r\n\r\n${ctx.siteA}\r\n--xyz--`,
      `<?xml version="1.0"?><event site="${ctx.siteA}"/>`,
      rng.bytes(rng.int(1, 200)).toString('latin1'),
      '',
    ]);
    const type = rng.pick(CONTENT_TYPES);
    b.eventCase(
      'collector:event, wrong content type',
      Buffer.from(body, 'latin1'),
      type === '' ? null : type,
    );
  }
  for (let i = 0; i < n(40); i++) {
    const size = rng.int(64 * 1024 + 1, 600 * 1024);
    const e = b.baseEvent();
    const body = JSON.stringify({ ...e, props: { big: 'x'.repeat(size) } });
    b.eventCase('collector:event, oversized body', body, rng.pick(['application/json', 'text/plain']));
  }

  // POST /api/events: tokens first (a valid batch of site A with every wrong credential), then bodies.
  for (let i = 0; i < n(200); i++) {
    const events = [{ ...b.baseEvent(), ts: ctx.now - 60_000, user_agent: DESKTOP_UA }];
    const body = { site: ctx.siteA, events };
    const which = rng.pick(['ingestA', 'readA', 'ingestB', 'ingestB-as-is']);
    const token = which === 'readA' ? ctx.readA : which.startsWith('ingestB') ? ctx.ingestB : ctx.ingestA;
    const auth = which === 'ingestB-as-is' || which === 'readA' ? `Bearer ${token}` : b.authHeader(token);
    if (batchAccepted(body, auth, ctx)) {
      b.discarded++;
      continue;
    }
    b.add({
      cls: 'collector:batch, missing/wrong/other-site token',
      target: 'collector',
      expect: 'reject',
      req: {
        method: 'POST',
        path: '/api/events',
        headers: { ...b.headers('application/json'), ...(auth === undefined ? {} : { authorization: auth }) },
        body: JSON.stringify(body),
      },
    });
  }
  for (let i = 0; i < n(350); i++) {
    const body = b.badBatchBody();
    const auth = `Bearer ${ctx.ingestA}`;
    if (batchAccepted(body, auth, ctx)) {
      b.discarded++;
      continue;
    }
    b.add({
      cls: 'collector:batch, invalid body (valid token)',
      target: 'collector',
      expect: 'reject',
      req: {
        method: 'POST',
        path: '/api/events',
        headers: { ...b.headers('application/json'), authorization: auth },
        body: JSON.stringify(body),
      },
    });
  }
  for (let i = 0; i < 2; i++) {
    b.add({
      cls: 'collector:batch, oversized body (> 4 MiB)',
      target: 'collector',
      expect: 'reject',
      req: {
        method: 'POST',
        path: '/api/events',
        headers: { ...b.headers('application/json'), authorization: `Bearer ${ctx.ingestA}` },
        body: JSON.stringify({
          site: ctx.siteA,
          events: [{ ...b.baseEvent(), props: { p: 'x'.repeat(4.2 * 2 ** 20) } }],
        }),
      },
    });
  }

  // GET /e.gif: every candidate fails on its site or its url.
  for (let i = 0; i < n(350); i++) {
    const q: string[] = [];
    const kind = rng.int(0, 7);
    const site = (s: string) => q.push(`site=${pct(s)}`);
    if (kind === 0) {
      /* no site */
    } else if (kind === 1) site(rng.pick([...HOSTILE, 'unregistered.test', ctx.siteA.toUpperCase(), '*']));
    else if (kind === 2) q.push(`site=${ctx.siteA}`, `site=${ctx.siteA}`);
    else if (kind === 3)
      q.push(`site=${rng.pick(['%zz', '%', '%f', '%ff%fe', '%c0%af', '%00', '%E2%82'])}${ctx.siteA}`);
    else if (kind === 4) q.push(`site=${'s'.repeat(rng.int(254, 6000))}`);
    else q.push(`site=${ctx.siteA}`);
    if (kind >= 5) {
      const url = rng.pick([
        'javascript:alert(1)',
        'file:///etc/passwd',
        'data:,x',
        '../../etc/passwd',
        rng.pick(HOSTILE),
        `https://alpha.test/${'p'.repeat(2100)}`,
      ]);
      if (kind === 5) q.push(`url=${pct(url)}`);
      else if (kind === 6)
        q.push(`name=${pct(`${rng.pick(HOSTILE)}\n`)}`, `url=${pct('https://alpha.test/')}`);
      else q.push(`visitor_id=${pct(`${rng.pick(HOSTILE)}!`)}`, `url=${pct('https://alpha.test/')}`);
    } else if (rng.chance(0.5)) q.push(`url=${pct('https://alpha.test/')}`);
    for (let k = rng.int(0, 3); k > 0; k--) q.push(`${pct(rng.pick(HOSTILE))}=${pct(rng.pick(HOSTILE))}`);
    const headers = b.headers(null);
    if (kind !== 5 && rng.chance(0.3))
      headers.referer = rng.pick(['javascript:x', 'https://alpha.test/', 'ftp://x/']);
    // The oracle for the pixel: the same candidate event the collector builds.
    const params = new URLSearchParams(q.join('&'));
    const sites = params.getAll('site');
    const candidate = {
      site: sites.length === 1 ? sites[0] : sites,
      name: params.get('name') ?? 'pageview',
      url: params.get('url') ?? headers.referer ?? '',
      ...(params.has('visitor_id') ? { visitor_id: params.get('visitor_id') } : {}),
    };
    if (liveEventAccepted(candidate, ctx)) {
      b.discarded++;
      continue;
    }
    b.add({
      cls: 'collector:pixel GET /e.gif, hostile query',
      target: 'collector',
      expect: 'reject',
      req: { method: 'GET', path: `/e.gif?${q.join('&')}`, headers },
    });
  }
  b.add({
    cls: 'collector:pixel GET /e.gif, hostile query',
    target: 'collector',
    expect: 'reject',
    req: {
      method: 'GET',
      path: `/e.gif?site=${ctx.siteA}&url=${'u'.repeat(20_000)}`,
      headers: b.headers(null),
    },
  });

  for (let i = 0; i < n(200); i++) {
    b.add({
      cls: 'collector:unknown paths, traversal',
      target: 'collector',
      expect: 'reject',
      req: {
        method: rng.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'TRACE']),
        path: trickyPath(rng, 'collector'),
        headers: b.headers(null),
      },
    });
  }
  for (let i = 0; i < n(40); i++) {
    b.add({
      cls: 'collector:malformed HTTP',
      target: 'collector',
      expect: 'reject',
      allowClose: true,
      req: { method: 'RAW', path: '', raw: malformedHttp(rng, '/api/event') },
    });
  }

  // Valid requests from bots: answered 2xx, nothing accepted, nothing stored.
  for (let i = 0; i < n(60); i++) {
    const ua = rng.chance(0.15) ? null : rng.pick(BOT_UAS);
    const kind = rng.int(0, 2);
    const e = b.baseEvent();
    if (kind === 0) {
      b.add({
        cls: 'collector:bots (valid, dropped)',
        target: 'collector',
        expect: 'dropped',
        req: {
          method: 'POST',
          path: '/api/event',
          headers: b.headers('text/plain', ua),
          body: JSON.stringify(e),
        },
      });
    } else if (kind === 1) {
      b.add({
        cls: 'collector:bots (valid, dropped)',
        target: 'collector',
        expect: 'dropped',
        req: {
          method: 'GET',
          path: `/e.gif?site=${ctx.siteA}&url=${pct(String(e.url))}`,
          headers: b.headers(null, ua),
        },
      });
    } else {
      b.add({
        cls: 'collector:bots (valid, dropped)',
        target: 'collector',
        expect: 'dropped',
        req: {
          method: 'POST',
          path: '/api/events',
          headers: { ...b.headers('application/json'), authorization: `Bearer ${ctx.ingestA}` },
          body: JSON.stringify({ site: ctx.siteA, events: [{ ...e, user_agent: rng.pick(BOT_UAS) }] }),
        },
      });
    }
  }
  return { cases: b.cases, discarded: b.discarded };
}

const TRAVERSAL = [
  '/../../etc/passwd',
  '/../../../../../../etc/passwd',
  '/%2e%2e/%2e%2e/etc/passwd',
  '/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '/..%2f..%2f..%2fetc%2fpasswd',
  '/%252e%252e/%252e%252e/etc/passwd',
  '/..%5c..%5cetc%5cpasswd',
  '/.%00./etc/passwd',
  '/%c0%ae%c0%ae/etc/passwd',
  '//etc/passwd',
  '/./././etc/passwd',
  '/stint.js/../../etc/passwd',
  '/static/../../../../etc/passwd',
  '/index.html/../../package.json',
  '/.env',
  '/.git/config',
  '/package.json',
  '/../package.json',
  '/node_modules/fastify/package.json',
  '/.stint/clickhouse/users.xml',
  '/%2e%2e/.stint/kafka/server.properties',
  '/etc/passwd%00.gif',
  '/e.gif%00',
  '/api/event/../../etc/passwd',
  '/api/v1/../../etc/passwd',
  '/docs/../../../etc/passwd',
  '/docs/static/../../../../etc/passwd',
  '/api/v1/sites/alpha.test/../../../../etc/passwd',
  '/proc/self/environ',
  '/%ff%fe/',
  '/\xff\xfe\xc0\xaf',
  '/\xc0\xae\xc0\xae/\xc0\xae\xc0\xae/etc/passwd',
];

function trickyPath(rng: Rng, target: 'collector' | 'api'): string {
  const kind = rng.int(0, 3);
  if (kind <= 1) return rng.pick(TRAVERSAL);
  if (kind === 2) {
    const known =
      target === 'collector'
        ? ['/api/event', '/api/events', '/e.gif', '/healthz']
        : ['/api/v1', '/api/v1/sites', '/auth'];
    return `${rng.pick(known)}${rng.pick(['/', '//', '/x', '%2F', '.json', '/..', ';', '%00', '/%2e%2e'])}`;
  }
  return `/${Buffer.from(rng.text(30), 'utf8')
    .toString('latin1')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: node:http refuses them in a path
    .replace(/[\u0000-\u0020\u007f]/g, '_')
    .replace(/[?#]/g, '_')}`;
}

function malformedHttp(rng: Rng, path: string): Buffer {
  const host = 'Host: 127.0.0.1\r\n';
  return Buffer.from(
    rng.pick([
      `GET ${path}\u0000 HTTP/1.1\r\n${host}\r\n`,
      `GET ${path} HTTP/9.9\r\n${host}\r\n`,
      `FOO ${path} HTTP/1.1\r\n${host}\r\n`,
      `GET ${path} HTTP/1.1\r\n${host}Bad Header: x\r\n\r\n`,
      `GET ${path} HTTP/1.1\r\n${host}X: a\u0000b\r\n\r\n`,
      `POST ${path} HTTP/1.1\r\n${host}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      `POST ${path} HTTP/1.1\r\n${host}Content-Length: 5\r\nContent-Length: 7\r\n\r\n{}{}{}{`,
      `POST ${path} HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
      `POST ${path} HTTP/1.1\r\n${host}Content-Length: -1\r\n\r\n`,
      `GET ${path} HTTP/1.1\r\n${host}X-Folded: a\r\n  b\r\n\r\n`,
      `GET ${path} HTTP/1.1\r\n${host}X-Big: ${'h'.repeat(20_000)}\r\n\r\n`,
      `GET /${'a'.repeat(20_000)} HTTP/1.1\r\n${host}\r\n`,
      `GET ${path} HTTP/1.1\r\n\r\n`,
    ]),
    'latin1',
  );
}

// ------------------------------------------------------------------------------------ api classes

const ENDPOINTS = ['summary', 'timeseries', 'breakdown', 'duration', 'frequency', 'realtime'] as const;
type Endpoint = (typeof ENDPOINTS)[number];
// The api's own lists, so a new filter or breakdown is fuzzed as soon as it exists.
const FILTERS: readonly string[] = FILTER_KEYS;
const BREAKDOWNS: readonly string[] = API_BREAKDOWNS;

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** A valid query string (as pairs) for an endpoint, over a range that holds the fixture data. */
function validQuery(rng: Rng, endpoint: Endpoint, now: number): [string, string][] {
  const q: [string, string][] = [];
  if (endpoint === 'realtime') {
    if (rng.chance(0.5)) q.push(['limit', String(rng.int(1, 100))]);
    return q;
  }
  q.push(['from', day(now - 2 * 86_400_000)], ['to', day(now + 86_400_000)]);
  if (rng.chance(0.3)) q.push(['compare', rng.pick(['previous', 'none'])]);
  if (endpoint === 'timeseries' || endpoint === 'frequency')
    q.push(['interval', rng.pick(['hour', 'day', 'week', 'month'])]);
  if (endpoint === 'breakdown') {
    q.push(['by', rng.pick(BREAKDOWNS)]);
    if (rng.chance(0.5)) q.push(['limit', String(rng.int(1, 1000))]);
  }
  return q;
}

function qs(pairs: [string, string][]): string {
  return pairs.map(([k, v]) => `${pct(k)}=${pct(v)}`).join('&');
}

/** A path as a static file server sees it: dot segments (also encoded) resolved, then decoded. */
export function normalisedPath(path: string): string {
  const resolved = new URL(`http://x${path.startsWith('/') ? '' : '/'}${path}`).pathname;
  try {
    return decodeURIComponent(resolved);
  } catch {
    return resolved;
  }
}

export function apiCases(rng: Rng, ctx: FuzzContext, scale = 1): { cases: FuzzCase[]; discarded: number } {
  const b = new Builder(rng, ctx);
  const n = (k: number) => Math.max(1, Math.round(k * scale));
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const get = (cls: string, expect: Expectation, path: string, headers: Record<string, string>) =>
    b.add({ cls: `api:${cls}`, target: 'api', expect, req: { method: 'GET', path, headers } });
  const url = (site: string, endpoint: string, query: string) =>
    `/api/v1/sites/${site}/${endpoint}${query ? `?${query}` : ''}`;

  for (let i = 0; i < n(150); i++) {
    const e = rng.pick(ENDPOINTS);
    get('no token', 'reject', url(rng.pick([ctx.siteA, ctx.siteB]), e, qs(validQuery(rng, e, ctx.now))), {});
  }
  for (let i = 0; i < n(200); i++) {
    const e = rng.pick(ENDPOINTS);
    const auth = rng.chance(0.2) ? `Bearer ${ctx.ingestA}` : b.authHeader(ctx.readA);
    const headers: Record<string, string> = auth === undefined ? {} : { authorization: auth };
    if (rng.chance(0.2)) {
      headers.cookie = `${rng.pick(['__Host-stint_session', 'stint_session'])}=${rng.pick([...HOSTILE.map(pct), 'a'.repeat(64), ''])}`;
    }
    if (/^Bearer\s+(\S+)$/i.exec((auth ?? '').trim())?.[1] === ctx.readA) continue;
    get('malformed/wrong-scope token', 'reject', url(ctx.siteA, e, qs(validQuery(rng, e, ctx.now))), headers);
  }
  for (let i = 0; i < n(120); i++) {
    const e = rng.pick(ENDPOINTS);
    const query = validQuery(rng, e, ctx.now);
    if (rng.chance(0.3)) query.push([rng.pick(FILTERS), rng.pick(HOSTILE)]);
    get(
      'site A token on site B',
      'reject',
      url(rng.pick([ctx.siteB, 'unregistered.test', 'beta.test.']), e, qs(query)),
      bearer(ctx.readA),
    );
  }
  for (let i = 0; i < n(250); i++) {
    const e = rng.pick(ENDPOINTS);
    get(
      'invalid params (site A token)',
      'reject',
      url(ctx.siteA, e, invalidQuery(rng, e, ctx)),
      bearer(ctx.readA),
    );
  }
  for (let i = 0; i < n(150); i++) {
    const e = rng.pick(ENDPOINTS);
    const site = rng.pick([
      `..%2f..%2f${ctx.siteB}`,
      '%2e%2e',
      '..',
      ctx.siteB.toUpperCase(),
      `${ctx.siteB}%00`,
      `${ctx.siteA}%00`,
      `${ctx.siteA}%20`,
      '*',
      '%2A',
      `${ctx.siteA}%2F..%2F${ctx.siteB}`,
      `${ctx.siteA};${ctx.siteB}`,
      `${ctx.siteB}'--`,
      'b\u0435ta.test',
      's'.repeat(rng.int(254, 400)),
      pct(rng.pick(HOSTILE)),
      `${ctx.siteA}/../${ctx.siteB}`,
      `${ctx.siteB}/../${ctx.siteA}`,
      `${ctx.siteA}/${e}/..`,
      `${ctx.siteA}/.`,
    ]);
    const path = url(Buffer.from(site, 'utf8').toString('latin1'), e, qs(validQuery(rng, e, ctx.now)));
    get('path tricks in :site', 'reject', path, bearer(ctx.readA));
  }
  for (let i = 0; i < n(100); i++) {
    const headers = rng.chance(0.5) ? bearer(ctx.readA) : {};
    const method = rng.pick(['GET', 'GET', 'POST', 'PUT', 'DELETE']);
    const path = trickyPath(rng, 'api');
    // `/auth/%2e%2e` is `/`: the dashboard's public index, valid by construction.
    if (method === 'GET' && ctx.publicFile(normalisedPath(path))) {
      b.discarded++;
      continue;
    }
    b.add({
      cls: 'api:unknown paths, traversal',
      target: 'api',
      expect: 'reject',
      req: { method, path, headers },
    });
  }
  for (let i = 0; i < n(60); i++) {
    const body = rng.pick<() => unknown>([
      () => ({ email: rng.pick(HOSTILE), password: rng.pick(HOSTILE) }),
      () => ({ email: `${'e'.repeat(5000)}@x.test`, password: 'x' }),
      () => ({ email: ['a@b.test'], password: { $ne: null } }),
      () => ({ email: 'admin@example.com', password: 'p'.repeat(100_000) }),
      () => ({ __proto__: { admin: true } }),
      () => rng.pick(HOSTILE),
      () => null,
    ])();
    const text =
      typeof body === 'object' && body !== null && Object.keys(body).length === 0
        ? '{"__proto__":{"admin":true}}'
        : JSON.stringify(body);
    b.add({
      cls: 'api:sign-in junk',
      target: 'api',
      expect: 'reject',
      req: {
        method: 'POST',
        path: '/auth/login',
        headers: {
          'content-type': rng.pick([
            'application/json',
            'application/json',
            'text/plain',
            'application/x-www-form-urlencoded',
          ]),
          // Mostly the api's own origin, so the body is what gets judged, not the origin check.
          origin: rng.chance(0.8)
            ? ctx.apiOrigin
            : rng.pick(['https://evil.example', 'null', pct(rng.pick(HOSTILE))]),
        },
        body: text,
      },
    });
  }
  for (let i = 0; i < n(20); i++) {
    b.add({
      cls: 'api:malformed HTTP',
      target: 'api',
      expect: 'reject',
      allowClose: true,
      req: { method: 'RAW', path: '', raw: malformedHttp(rng, `/api/v1/sites/${ctx.siteA}/summary`) },
    });
  }
  // Valid but hostile: filter values an attacker controls reach SQL (quoted) and must find nothing of B.
  for (let i = 0; i < n(150); i++) {
    const e = rng.pick(ENDPOINTS);
    const query = validQuery(rng, e, ctx.now);
    for (let k = rng.int(1, 3); k > 0; k--) {
      const value = rng.chance(0.7) ? rng.pick(HOSTILE) : rng.text(60);
      query.push([rng.pick(FILTERS), value.toWellFormed().slice(0, 1000)]);
    }
    // Repeated keys would become arrays (a 400): keep the last of each.
    const unique = [...new Map(query).entries()];
    get('valid, hostile filter values', 'ok', url(ctx.siteA, e, qs(unique)), bearer(ctx.readA));
  }
  return { cases: b.cases, discarded: b.discarded };
}

function invalidQuery(rng: Rng, endpoint: Endpoint, ctx: FuzzContext): string {
  const q = validQuery(rng, endpoint, ctx.now);
  const set = (k: string, v: string) => {
    const i = q.findIndex(([key]) => key === k);
    if (i >= 0) q[i] = [k, v];
    else q.push([k, v]);
  };
  const h = () => rng.pick(HOSTILE);
  const ranged = endpoint !== 'realtime';
  const options: (() => void)[] = [
    () =>
      q.push([
        rng.pick(['site', 'site_id', 'database', 'query', 'format', 'FROM', 'token', 'tz', h()]),
        rng.chance(0.5) ? ctx.siteB : h(),
      ]),
    () => q.push([rng.pick(FILTERS), 'x'.repeat(rng.int(1025, 5000))]),
    () => {
      const f = rng.pick(FILTERS);
      q.push([f, h()], [f, h()]);
    },
    () =>
      set(
        'limit',
        rng.pick([
          '0',
          '-1',
          endpoint === 'realtime' ? '101' : '1001',
          'abc',
          '1.5',
          'NaN',
          'Infinity',
          "10' OR 1=1 --",
          '99999999999999999999',
        ]),
      ),
  ];
  if (ranged) {
    options.push(
      () =>
        set(
          rng.pick(['from', 'to']),
          rng.pick([
            ...HOSTILE,
            '2024-02-30',
            '2024-13-01',
            '2024-01-01T25:00',
            '2024-01-01T10:00+15:00',
            'now()',
            'yesterday',
            `${'2'.repeat(41)}`,
          ]),
        ),
      () => {
        set('from', day(ctx.now + 86_400_000));
        set('to', day(ctx.now - 86_400_000));
      },
      () => {
        set('from', '1990-01-01');
        set('to', day(ctx.now));
      },
      () => {
        set('from', '1970-01-01');
        set('to', '1970-01-02');
      },
      () => set('compare', h()),
    );
  } else {
    options.push(() => q.push([rng.pick(['from', 'to', 'compare', 'interval']), day(ctx.now)]));
  }
  if (endpoint === 'timeseries' || endpoint === 'frequency') {
    options.push(
      () => set('interval', rng.pick([...HOSTILE, 'minute', 'HOUR', 'year'])),
      () => {
        set('interval', 'hour');
        set('from', day(ctx.now - 400 * 86_400_000));
        set('to', day(ctx.now));
      },
    );
  }
  if (endpoint === 'breakdown') {
    options.push(
      () => set('by', rng.pick([...HOSTILE, 'site_id', 'visitor_id', 'PAGE', 'props'])),
      () =>
        q.splice(
          q.findIndex(([k]) => k === 'by'),
          1,
        ),
    );
  }
  rng.pick(options)();
  return qs(q);
}

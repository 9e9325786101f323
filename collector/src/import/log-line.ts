/**
 * Apache/nginx "combined" access-log lines → page views for POST /api/events.
 *
 *   %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"
 *   203.0.113.9 - - [10/Oct/2024:13:55:36 -0700] "GET /pricing HTTP/1.1" 200 2326 "https://www.google.com/" "Mozilla/5.0 …"
 *
 * Pure: parsing, the page-view filter (GET, 2xx/3xx, not a static asset, not a bot) and the event.
 */
import { createHash } from 'node:crypto';
import type { ServerEvent } from '../contract/event.ts';
import { LIMITS, PAGEVIEW } from '../contract/event.ts';
import { isBot } from '../enrich/bot.ts';

export interface LogEntry {
  ip: string;
  ts: number;
  method: string;
  target: string;
  status: number;
  referrer: string;
  userAgent: string;
  /** The virtual host, lower case without port, when the format logs one. */
  host?: string;
}

const QUOTED = '"((?:[^"\\\\]|\\\\.)*)"';
const COMBINED = new RegExp(
  `^(\\S+) \\S+ \\S+ \\[([^\\]]+)\\] ${QUOTED} (\\d{3}) \\S+(?: ${QUOTED} ${QUOTED})?`,
);
const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};
const TIME = /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/;

/** `10/Oct/2000:13:55:36 -0700` → epoch ms, or NaN. */
export function parseLogTime(text: string): number {
  const m = TIME.exec(text);
  if (!m) return Number.NaN;
  const month = MONTHS[m[2] as string];
  if (month === undefined) return Number.NaN;
  const utc = Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  // Date.UTC rolls 32/Oct over to 1/Nov and 24:00 to the next day: such a time is not one.
  const d = new Date(utc);
  if (d.getUTCDate() !== Number(m[1]) || d.getUTCHours() !== Number(m[4]) || Number(m[6]) > 59) {
    return Number.NaN;
  }
  const offset = (Number(m[8]) * 60 + Number(m[9])) * 60_000 * (m[7] === '-' ? -1 : 1);
  return utc - offset;
}

/**
 * Apache escapes `"` as `\"`; nginx writes `\x22` and any non-ASCII byte as `\xHH`. Working on the
 * bytes (latin1 maps each byte to one char) turns escaped UTF-8 sequences back into their characters.
 */
export function unescapeLog(text: string): string {
  if (!text.includes('\\')) return text;
  const bytes = Buffer.from(text, 'utf8')
    .toString('latin1')
    .replace(/\\x([0-9a-fA-F]{2})|\\(.)/g, (_, hex: string | undefined, ch: string | undefined) =>
      hex !== undefined ? String.fromCharCode(Number.parseInt(hex, 16)) : (ch ?? ''),
    );
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

function dash(text: string | undefined): string {
  const t = unescapeLog(text ?? '');
  return t === '-' ? '' : t;
}

/** One line of combined (or common) log format; null when it is not one. */
export function parseCombinedLine(line: string): LogEntry | null {
  const m = COMBINED.exec(line);
  if (!m) return null;
  const ts = parseLogTime(m[2] as string);
  const request = unescapeLog(m[3] as string).split(' ');
  if (!Number.isFinite(ts) || request.length < 2) return null;
  return {
    ip: m[1] as string,
    ts,
    method: request[0] as string,
    target: request[1] as string,
    status: Number(m[4]),
    referrer: dash(m[5]),
    userAgent: dash(m[6]),
  };
}

const STATIC = new Set(
  'css js mjs map json xml txt png jpg jpeg gif svg ico webp avif bmp tif tiff woff woff2 ttf otf eot mp4 webm mp3 wav ogg m4a mov avi pdf zip gz tgz bz2 xz 7z rar exe dmg apk wasm csv rss atom'.split(
    ' ',
  ),
);

export function isStaticPath(path: string): boolean {
  const last = path.slice(path.lastIndexOf('/') + 1);
  const dot = last.lastIndexOf('.');
  return dot > 0 && STATIC.has(last.slice(dot + 1).toLowerCase());
}

export type Verdict = 'page' | 'not_get' | 'status' | 'static' | 'bot';

/** Page views only: GET, 2xx/3xx, not an asset, not a bot (an empty user agent counts as one). */
export function classify(entry: LogEntry, opts: { emptyUaIsBot: boolean } = { emptyUaIsBot: true }): Verdict {
  if (entry.method !== 'GET') return 'not_get';
  if (entry.status < 200 || entry.status >= 400) return 'status';
  if (isStaticPath(pathOf(entry.target))) return 'static';
  if (isBot(entry.userAgent, { emptyIsBot: opts.emptyUaIsBot })) return 'bot';
  return 'page';
}

function pathOf(target: string): string {
  const q = target.search(/[?#]/);
  const path = q < 0 ? target : target.slice(0, q);
  if (/^https?:\/\//i.test(path)) {
    try {
      return new URL(path).pathname;
    } catch {
      return path;
    }
  }
  return path;
}

/**
 * The event for a kept line. `event_id` hashes the site, line number and line, so importing the same
 * file again is recognised downstream as the same events, while identical hits on two lines stay two.
 */
export function toServerEvent(
  entry: LogEntry,
  opts: { site: string; baseUrl: string; line: string; lineNo: number },
): ServerEvent {
  const target = /^https?:\/\//i.test(entry.target)
    ? new URL(entry.target).pathname + new URL(entry.target).search
    : entry.target;
  const url = `${opts.baseUrl.replace(/\/$/, '')}${target.startsWith('/') ? '' : '/'}${target}`.slice(
    0,
    LIMITS.url,
  );
  const event: ServerEvent = {
    site: opts.site,
    name: PAGEVIEW,
    url,
    ts: entry.ts,
    ip: entry.ip,
    user_agent: entry.userAgent.slice(0, LIMITS.userAgent),
    event_id: createHash('sha256')
      .update(`${opts.site}|${opts.lineNo}|${opts.line}`)
      .digest('base64url')
      .slice(0, 32),
  };
  if (entry.referrer !== '') event.referrer = entry.referrer.slice(0, LIMITS.referrer);
  return event;
}

/**
 * Insert bodies in ClickHouse's TabSeparated format, built by hand for the two row types. Cheaper than
 * JSONEachRow on both sides: no per-row JSON.stringify here, and the server parses TSV much faster
 * than JSON (ClickHouse shares this machine's cores).
 *
 * TabSeparated escaping of a String: backslash, tab and line feed must be escaped; carriage return is
 * escaped too (18.16 refuses a row ending in a raw `\r`). Every other character goes as UTF-8.
 * Numbers are integers (the row types' numeric columns are all UInt*) written as JSON would write
 * them, DateTimes are already `YYYY-MM-DD hh:mm:ss` strings.
 */
import type { EventRow, SessionRow } from './state/index.ts';

/** The columns of each table, in the order of the migrations (checked by a test against the server). */
export const EVENT_COLUMNS = [
  'site_id',
  'event_id',
  'ts',
  'ts_ms',
  'received_at',
  'session_id',
  'visitor_id',
  'name',
  'url',
  'path',
  'hostname',
  'referrer',
  'referrer_host',
  'source',
  'medium',
  'channel',
  'campaign',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_content',
  'utm_term',
  'engaged_ms',
  'scroll_depth',
  'props',
  'country',
  'region',
  'device',
  'browser',
  'os',
  'version',
] as const satisfies readonly (keyof EventRow)[];

export const SESSION_COLUMNS = [
  'site_id',
  'session_id',
  'visitor_id',
  'started_at',
  'ended_at',
  'duration_s',
  'pageviews',
  'events',
  'engaged_ms',
  'max_scroll_depth',
  'entry_path',
  'exit_path',
  'page_paths',
  'page_path_views',
  'is_bounce',
  'is_engaged',
  'has_conversion',
  'source',
  'medium',
  'channel',
  'campaign',
  'referrer_host',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_content',
  'utm_term',
  'country',
  'region',
  'device',
  'browser',
  'os',
  'start_reason',
  'is_final',
  'deleted',
  'version',
  'updated_at',
] as const satisfies readonly (keyof SessionRow)[];

// Both lists must name every field of their row type (a missing column would silently take its default).
type Missing<Row, Cols extends readonly unknown[]> = Exclude<keyof Row, Cols[number]>;
const eventsComplete: Missing<EventRow, typeof EVENT_COLUMNS> extends never ? true : false = true;
const sessionsComplete: Missing<SessionRow, typeof SESSION_COLUMNS> extends never ? true : false = true;
void eventsComplete;
void sessionsComplete;

const SPECIAL = /[\\\t\n\r]/;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** One String value, escaped for TabSeparated. */
export function tsvString(s: string): string {
  return SPECIAL.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c] as string) : s;
}

const QUOTED_SPECIAL = /[\\'\t\n\r]/;
const QUOTED_ESCAPES: Record<string, string> = { ...ESCAPES, "'": "\\'" };

/**
 * An Array(String) value for TabSeparated: `['a','b']`, each element quoted with `'` and escaped with
 * backslashes (ClickHouse reads the elements of an array field as quoted values, which also undo `\t`,
 * `\n`, `\r`, so no raw tab or line feed reaches the line).
 */
export function tsvStringArray(xs: readonly string[]): string {
  let out = '[';
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i] as string;
    const quoted = QUOTED_SPECIAL.test(x) ? x.replace(/[\\'\t\n\r]/g, (c) => QUOTED_ESCAPES[c] as string) : x;
    out += i === 0 ? `'${quoted}'` : `,'${quoted}'`;
  }
  return `${out}]`;
}

/** A numeric column: the same text JSON would carry for an integer. */
const n = String;

const s = tsvString;

// Columns the state machine derives itself (DateTime text from `dateTime`, hex session ids, the start
// reason enum) hold no character to escape and go as they are.

/** One `events_raw` row as a TabSeparated line (without its line feed), columns in `EVENT_COLUMNS` order. */
export function eventLine(r: EventRow): string {
  return [
    s(r.site_id),
    s(r.event_id),
    r.ts,
    n(r.ts_ms),
    r.received_at,
    r.session_id,
    s(r.visitor_id),
    s(r.name),
    s(r.url),
    s(r.path),
    s(r.hostname),
    s(r.referrer),
    s(r.referrer_host),
    s(r.source),
    s(r.medium),
    s(r.channel),
    s(r.campaign),
    s(r.utm_source),
    s(r.utm_medium),
    s(r.utm_campaign),
    s(r.utm_content),
    s(r.utm_term),
    n(r.engaged_ms),
    n(r.scroll_depth),
    s(r.props),
    s(r.country),
    s(r.region),
    s(r.device),
    s(r.browser),
    s(r.os),
    n(r.version),
  ].join('\t');
}

/** One `sessions_raw` row as a TabSeparated line (without its line feed), columns in `SESSION_COLUMNS` order. */
export function sessionLine(r: SessionRow): string {
  return [
    s(r.site_id),
    r.session_id,
    s(r.visitor_id),
    r.started_at,
    r.ended_at,
    n(r.duration_s),
    n(r.pageviews),
    n(r.events),
    n(r.engaged_ms),
    n(r.max_scroll_depth),
    s(r.entry_path),
    s(r.exit_path),
    tsvStringArray(r.page_paths),
    `[${r.page_path_views.join(',')}]`,
    n(r.is_bounce),
    n(r.is_engaged),
    n(r.has_conversion),
    s(r.source),
    s(r.medium),
    s(r.channel),
    s(r.campaign),
    s(r.referrer_host),
    s(r.utm_source),
    s(r.utm_medium),
    s(r.utm_campaign),
    s(r.utm_content),
    s(r.utm_term),
    s(r.country),
    s(r.region),
    s(r.device),
    s(r.browser),
    s(r.os),
    r.start_reason,
    n(r.is_final),
    n(r.deleted),
    n(r.version),
    r.updated_at,
  ].join('\t');
}

// An array joined once per row: a template literal of 35 parts builds a deep rope per line, about twice
// as slow to build and flatten (and slower than JSON.stringify of the row).
// The lines become an insert body in `ByteChunks` (byte-chunks.ts), one line feed after each.

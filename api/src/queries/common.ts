/**
 * Pieces shared by the report queries. Every value reaches SQL through `sql`/`quote` from the access
 * layer; identifiers through `ident`. The only raw fragments are the column names in `FILTER_COLUMNS`
 * and `BREAKDOWN_COLUMNS`, chosen from fixed maps by validated keys. All SQL here runs on ClickHouse
 * 18.16 and on current ClickHouse: no window functions, no toStartOfInterval, no DateTime64.
 */
import { ident, join, type RawSql, raw, sql } from '@stint/infra/clickhouse';

export const FILTER_KEYS = [
  'page',
  'entry_page',
  'source',
  'medium',
  'campaign',
  'referrer',
  'country',
  'device',
  'browser',
  'os',
] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];
export type Filters = Partial<Record<FilterKey, string>>;

/** Session-level filters: the column of the `sessions` view each one compares with. */
const FILTER_COLUMNS: Record<Exclude<FilterKey, 'page'>, string> = {
  entry_page: 'entry_path',
  source: 'source',
  medium: 'medium',
  campaign: 'campaign',
  referrer: 'referrer_host',
  country: 'country',
  device: 'device',
  browser: 'browser',
  os: 'os',
};

/**
 * A session's events may come after the session's start by up to the site's maximum session length
 * (at most 7 days, see the site settings); event scans for sessions started in a range reach this far
 * past its end.
 */
export const EVENT_SLACK_S = 7 * 24 * 3600;

/** What every report query needs: which database and site, the UTC range and the filters. */
export interface ReportParams {
  database: string;
  site: string;
  /** IANA zone for day, week, month and hour boundaries. */
  timezone: string;
  /** Inclusive UTC start. */
  from: Date;
  /** Exclusive UTC end. */
  to: Date;
  filters: Filters;
  /**
   * Parts of `sessions_raw` / `events_raw` that are each the only active part of their month and the
   * product of a merge, so no two rows share a sort key there and each row is its id's latest version:
   * they are read without FINAL, all other parts with FINAL (see src/partitions.ts and
   * src/report-cache.ts, which also makes sure no part came or went while the report ran). Absent:
   * FINAL everywhere.
   */
  clean?: CleanPartitions;
}

export interface CleanPartitions {
  sessions: readonly string[];
  events: readonly string[];
  /**
   * Months of `sessions_raw` that are one merged part (`merged`, one per month) plus a few newer
   * parts (`newer`: rewrites of open sessions since the merge, possibly several versions each). The
   * merged part's rows of ids that no newer part holds are their ids' latest versions.
   */
  sessionsAmended?: { merged: readonly string[]; newer: readonly string[] };
  /**
   * The one active part of `visitor_first_seen`, when the rollup is a single merged part (one row per
   * site and visitor, so it is read without grouping, see first-seen.ts). Absent: grouped.
   */
  firstSeen?: string;
  /**
   * The rollup as one merged part and a few newer parts (rows of visitors with sessions written since
   * the merge): the merged part is read ungrouped for the visitors no newer part holds.
   */
  firstSeenAmended?: { merged: string; newer: readonly string[] };
}

/**
 * The month (`YYYYMM`, as in the monthly tables' partition ids) of `instant` moved by `days`.
 * Partitions are months of the server's time zone (UTC−12 to UTC+14): a day either side of a UTC
 * instant covers every zone.
 */
export function monthId(instant: Date, days = 0): string {
  const d = new Date(instant.getTime() + days * 86_400_000);
  return `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

/**
 * The parts among `parts` (names `<YYYYMM>_…`) whose month may hold rows in `[from, to)`: a query
 * names only those, so its text (and its cache entry) does not change when other months are written.
 */
function partsIn(parts: readonly string[], from: Date | null, to: Date): string[] {
  const lo = from === null ? '' : monthId(from, -1);
  const hi = monthId(to, 1);
  return parts.filter((name) => {
    const month = name.slice(0, name.indexOf('_'));
    return month >= lo && month <= hi;
  });
}

/**
 * The rows of the analyst views `sessions` / `events` for one site in a time window, read from the raw
 * tables the way the views define them (latest version via FINAL, then no tombstones) but with the site
 * and time bounds inside the FINAL query. ClickHouse 18.16 does not push predicates into a view's inner
 * query, so reading the view itself merges every site's whole history: 1.5 s instead of 40 ms for a
 * month of one site among 4 M sessions. Safe because site and start time (the sort key and partition)
 * never change for a session id, nor `ts` for an event (see the migrations).
 * `columns` are the only columns read (besides the sort key and version FINAL needs): `SELECT *` costs
 * about twice as much on a month of sessions.
 */
export function sessionsIn(
  p: Pick<ReportParams, 'database' | 'site' | 'clean'>,
  from: Date | null,
  to: Date,
  columns: readonly string[],
): RawSql {
  const lower = from === null ? sql`` : sql` AND started_at >= ${dateTime(from)}`;
  const colNames = unique(['site_id', 'started_at', ...columns]);
  const cols = raw(colNames.join(', '));
  const where = sql`site_id = ${p.site}${lower} AND started_at < ${dateTime(to)}`;
  const table = sql`${ident(p.database)}.sessions_raw`;
  const parts = partsIn(p.clean?.sessions ?? [], from, to);
  const amended = p.clean?.sessionsAmended;
  const newer = partsIn(amended?.newer ?? [], from, to);
  const merged = newer.length === 0 ? [] : partsIn(amended?.merged ?? [], from, to);
  if (parts.length + merged.length === 0) {
    return sql`(SELECT ${cols} FROM (SELECT ${cols}, deleted FROM ${table} FINAL
    WHERE ${where}) WHERE deleted = 0)`;
  }
  const branches: RawSql[] = [];
  // Clean parts read as they are (in parallel).
  if (parts.length > 0) {
    branches.push(
      sql`SELECT ${cols} FROM ${table} WHERE _part IN (${partList(parts)}) AND ${where} AND deleted = 0`,
    );
  }
  if (merged.length > 0) {
    // Amended months: the merged part as it is for the ids no newer part rewrote; for the rewritten
    // ids, the row of the highest version among the merged and the newer parts (what FINAL keeps: rows
    // of equal version are equal, see migration 002), without FINAL's one-thread merge of the month.
    const rewritten = sql`SELECT session_id FROM ${table} WHERE _part IN (${partList(newer)}) AND ${where}`;
    const latest = raw(colNames.map((c) => `argMax(${c}, version) AS ${c}__latest`).join(', '));
    const renamed = raw(colNames.map((c) => `${c}__latest AS ${c}`).join(', '));
    branches.push(sql`SELECT ${cols} FROM ${table} WHERE _part IN (${partList(merged)}) AND ${where} AND deleted = 0
    AND session_id NOT IN (${rewritten})`);
    branches.push(sql`SELECT ${renamed} FROM (SELECT ${latest}, argMax(deleted, version) AS deleted__latest
    FROM ${table} WHERE _part IN (${partList([...merged, ...newer])}) AND ${where} AND session_id IN (${rewritten})
    GROUP BY session_id) WHERE deleted__latest = 0`);
  }
  // All other parts through FINAL.
  branches.push(sql`SELECT ${cols} FROM (SELECT ${cols}, deleted FROM ${table} FINAL
    WHERE _part NOT IN (${partList([...parts, ...merged, ...newer])}) AND ${where}) WHERE deleted = 0`);
  return sql`(${join(branches, '\n  UNION ALL\n  ')})`;
}

export function eventsIn(
  p: Pick<ReportParams, 'database' | 'site' | 'clean'>,
  from: Date,
  to: Date,
  columns: readonly string[],
): RawSql {
  const cols = raw(unique(['site_id', 'ts', ...columns]).join(', '));
  const where = sql`site_id = ${p.site} AND ts >= ${dateTime(from)} AND ts < ${dateTime(to)}`;
  const table = sql`${ident(p.database)}.events_raw`;
  const parts = partsIn(p.clean?.events ?? [], from, to);
  if (parts.length === 0) return sql`(SELECT ${cols} FROM ${table} FINAL WHERE ${where})`;
  const list = partList(parts);
  return sql`(SELECT ${cols} FROM ${table} WHERE _part IN (${list}) AND ${where}
  UNION ALL
  SELECT ${cols} FROM ${table} FINAL WHERE _part NOT IN (${list}) AND ${where})`;
}

/** Part names as a quoted SQL list, for `_part IN (…)`. */
function partList(names: readonly string[]): RawSql {
  return join(
    names.map((m) => sql`${m}`),
    ', ',
  );
}

function unique(xs: readonly string[]): string[] {
  return [...new Set(xs)];
}

/** The `sessions` columns that `sessionSelection(p)` reads. */
export function selectionColumns(p: ReportParams): string[] {
  const out = ['site_id', 'started_at'];
  for (const key of Object.keys(FILTER_COLUMNS) as (keyof typeof FILTER_COLUMNS)[]) {
    if (p.filters[key] !== undefined) out.push(FILTER_COLUMNS[key]);
  }
  if (p.filters.page !== undefined) out.push('page_paths');
  return out;
}

/** The selected range of sessions (before filters), with the filters' columns and `columns`. */
export function rangeSessions(p: ReportParams, columns: readonly string[]): RawSql {
  return sessionsIn(p, p.from, p.to, [...selectionColumns(p), ...columns]);
}

/** A UTC DateTime literal, explicit about its zone so the server's own zone never matters. */
export function dateTime(d: Date): RawSql {
  return sql`toDateTime(${d}, 'UTC')`;
}

/** Conditions on the `sessions` view for the filters (without site and range). */
export function filterConditions(p: ReportParams): RawSql[] {
  const out: RawSql[] = [];
  for (const key of Object.keys(FILTER_COLUMNS) as (keyof typeof FILTER_COLUMNS)[]) {
    const value = p.filters[key];
    if (value !== undefined) out.push(sql`${raw(FILTER_COLUMNS[key])} = ${value}`);
  }
  if (p.filters.page !== undefined) {
    // A session matches `page` when it has a page view of that path: the path is in its page list.
    out.push(sql`has(page_paths, ${p.filters.page})`);
  }
  return out;
}

/** The selected sessions: this site, started in `[from, to)`, matching every filter. */
export function sessionSelection(p: ReportParams): RawSql {
  return join(
    [
      sql`site_id = ${p.site}`,
      sql`started_at >= ${dateTime(p.from)}`,
      sql`started_at < ${dateTime(p.to)}`,
      ...filterConditions(p),
    ],
    ' AND ',
  );
}

/** Divides, giving 0 instead of NaN/inf for an empty denominator. */
export function ratio(numerator: string, denominator: string): RawSql {
  return raw(`if(${denominator} = 0, 0, ${numerator} / ${denominator})`);
}

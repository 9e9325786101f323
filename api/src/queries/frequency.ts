import { type RawSql, raw, sql } from '@stint/infra/clickhouse';
import {
  dateTime,
  type ReportParams,
  rangeSessions,
  selectionColumns,
  sessionSelection,
  sessionsIn,
} from './common.ts';
import { firstEverSql } from './first-seen.ts';

/** Sessions per visitor in the range: `[min, max]`, the last one open. */
export const SESSIONS_PER_VISITOR_BUCKETS = [
  { label: '1', min: 1, max: 1 },
  { label: '2', min: 2, max: 2 },
  { label: '3-5', min: 3, max: 5 },
  { label: '6-10', min: 6, max: 10 },
  { label: '11+', min: 11, max: null },
] as const;

/** Whole days (86 400 s) since the visitor's previous session: `[min_days, max_days]`, the last open. */
export const DAYS_SINCE_PREVIOUS_BUCKETS = [
  { label: '0', min_days: 0, max_days: 0 },
  { label: '1', min_days: 1, max_days: 1 },
  { label: '2-7', min_days: 2, max_days: 7 },
  { label: '8-30', min_days: 8, max_days: 30 },
  { label: '31+', min_days: 31, max_days: null },
] as const;

function bucketCounts(column: string, buckets: readonly { min: number; max: number | null }[]): RawSql {
  const parts = buckets.map((b, i) =>
    b.max === null
      ? `countIf(${column} >= ${b.min}) AS b${i}`
      : `countIf(${column} >= ${b.min} AND ${column} <= ${b.max}) AS b${i}`,
  );
  // Column expressions and bounds are constants of this module, never input.
  return raw(parts.join(',\n  '));
}

/** One row: `visitors`, `b0`…`b4` (visitors by their number of selected sessions). */
export function sessionsPerVisitorQuery(p: ReportParams): RawSql {
  return sql`
SELECT count() AS visitors, ${bucketCounts('n', SESSIONS_PER_VISITOR_BUCKETS)}
FROM (SELECT visitor_id, count() AS n FROM ${rangeSessions(p, ['visitor_id'])} WHERE ${sessionSelection(p)} GROUP BY visitor_id)`;
}

/** Gaps of this many days or more share the last, open bucket. */
const OPEN_BUCKET_DAYS = DAYS_SINCE_PREVIOUS_BUCKETS[DAYS_SINCE_PREVIOUS_BUCKETS.length - 1]?.min_days ?? 31;

/**
 * One row: `sessions`, `first_sessions` (no earlier session at all), `b0`…`b4` (sessions by whole days
 * since the start of the same visitor's previous session, of any kind and at any time). Without window
 * functions: each visitor's session starts are sorted in an array with a "selected" flag, and
 * `arrayDifference` gives the gap to the previous start. Only the sessions from OPEN_BUCKET_DAYS before
 * the range on are read: a session whose previous one is earlier than that is at least that many days
 * after it (the open bucket). The first session read has no earlier one exactly when it is the
 * visitor's first session ever (`firstEverSql`; only visitors first seen in the window can match).
 */
export function daysSincePreviousQuery(p: ReportParams): RawSql {
  const selection = sessionSelection(p);
  const buckets = DAYS_SINCE_PREVIOUS_BUCKETS.map((b) => ({ min: b.min_days, max: b.max_days }));
  const windowStart = new Date(p.from.getTime() - OPEN_BUCKET_DAYS * 86_400_000);
  return sql`
SELECT
  count() AS sessions,
  countIf(idx = 1 AND is_first) AS first_sessions,
  ${bucketCounts(`if(idx = 1, if(is_first, -1, ${OPEN_BUCKET_DAYS}), intDiv(gap_s, 86400))`, buckets)}
FROM
(
SELECT
  idx,
  gap_s,
  (visitor_id, t) IN (
    SELECT visitor_id, toUInt32(first_ever) FROM ${firstEverSql(p)}
    WHERE first_ever >= ${dateTime(windowStart)} AND first_ever < ${dateTime(p.to)}
  ) AS is_first
FROM
(
  SELECT visitor_id, arraySort(groupArray((t, selected))) AS visits
  FROM
  (
    SELECT visitor_id, toUInt32(started_at) AS t, toUInt8(${selection}) AS selected
    FROM ${sessionsIn(p, windowStart, p.to, [...selectionColumns(p), 'visitor_id'])}
  )
  GROUP BY visitor_id
  HAVING max(selected) = 1
)
ARRAY JOIN
  arrayMap(x -> tupleElement(x, 1), visits) AS t,
  arrayMap(x -> tupleElement(x, 2), visits) AS sel,
  arrayDifference(arrayMap(x -> toInt64(tupleElement(x, 1)), visits)) AS gap_s,
  arrayEnumerate(visits) AS idx
WHERE sel = 1
)`;
}

import { type RawSql, raw, sql } from '@stint/infra/clickhouse';
import {
  dateTime,
  filterConditions,
  type ReportParams,
  selectionColumns,
  sessionSelection,
  sessionsIn,
} from './common.ts';
import { firstEverSql } from './first-seen.ts';
import { bucketList, bucketOf, type Interval } from './timeseries.ts';

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

/** Gaps of this many days or more share the last, open bucket. */
const OPEN_BUCKET_DAYS = DAYS_SINCE_PREVIOUS_BUCKETS[DAYS_SINCE_PREVIOUS_BUCKETS.length - 1]?.min_days ?? 31;

/** Summed over the rows of `frequencyQuery`, these give the report's range-wide figures. */
export const FREQUENCY_TOTAL_COLUMNS = [
  ...SESSIONS_PER_VISITOR_BUCKETS.map((_, i) => `spv_b${i}`),
  'dsp_sessions',
  'dsp_first_sessions',
  ...DAYS_SINCE_PREVIOUS_BUCKETS.map((_, i) => `dsp_b${i}`),
] as const;

/**
 * The whole frequency report in one query, without window functions: one row per time bucket of the
 * range (every bucket, empty ones with zeros) with `bucket` (as in the time series), `visitors`
 * (visitors with a selected session in the bucket), `new_visitors` (those of them whose first session
 * ever is a selected session in the bucket), and the columns of `FREQUENCY_TOTAL_COLUMNS`, whose sums
 * over all rows are:
 * - `spv_b0`…`spv_b4`: visitors by their number of selected sessions;
 * - `dsp_sessions`: selected sessions; `dsp_first_sessions`: those with no earlier session at all;
 *   `dsp_b0`…`dsp_b4`: those by whole days since the start of the same visitor's previous session (of
 *   any kind, at any time).
 *
 * Two branches of a UNION ALL, which ClickHouse runs in parallel:
 * 1. Sessions grouped by visitor: each visitor's session starts in the range, and its latest start in
 *    the OPEN_BUCKET_DAYS before it, sorted in one array of `start * 2 + selected` (a selected and an
 *    unselected session starting in the same second sort as `(start, selected)` tuples would), so
 *    `arrayDifference` gives each session's gap to the previous one. A session whose previous one is earlier than the window is at
 *    least that many days after it; so is, here, the first session in the window (the open bucket).
 *    The visitor's figures sit in the row of the first bucket of its selected sessions.
 * 2. The visitors whose first session ever (`firstEverSql`) started in the range, from their sessions
 *    at that second: new in that bucket when one of them is selected, and when the first of them (the
 *    visitor's first in the window) is selected, that session has no earlier one at all: it moves from
 *    the open bucket to `dsp_first_sessions`. Without filters every session is selected, and the set
 *    itself gives those rows (its pairs are live sessions in the range), without a scan.
 */
export function frequencyQuery(p: ReportParams, interval: Interval): RawSql {
  const selection = sessionSelection(p);
  const windowStart = new Date(p.from.getTime() - OPEN_BUCKET_DAYS * 86_400_000);
  const last = DAYS_SINCE_PREVIOUS_BUCKETS.length - 1;
  const int = (x: string, name: string) => `toInt64(${x}) AS ${name}`;
  const spv = SESSIONS_PER_VISITOR_BUCKETS.map((b, i) =>
    int(
      b.max === null ? `sumIf(n >= ${b.min}, carrier)` : `sumIf(n >= ${b.min} AND n <= ${b.max}, carrier)`,
      `spv_b${i}`,
    ),
  );
  // Per visitor: selected sessions by gap in seconds to the previous start; the first one in the
  // window, when selected, in the open bucket.
  // Each later session's bucket number (1-based; 0: not selected), once, then counted per bucket
  // with countEqual (one lambda instead of one per bucket).
  const bucketOfGap = DAYS_SINCE_PREVIOUS_BUCKETS.map((b, i) => {
    const lower = `g >= ${b.min_days * 86_400}`;
    const range = b.max_days === null ? lower : `${lower} AND g < ${(b.max_days + 1) * 86_400}`;
    return `${range}, ${i + 1}`;
  }).join(', ');
  const gapBuckets = `arrayMap((x, g) -> if(x % 2 = 1, multiIf(${bucketOfGap}, 0), 0), later, gaps) AS gap_buckets`;
  const perVisitor = DAYS_SINCE_PREVIOUS_BUCKETS.map(
    (_, i) => `countEqual(gap_buckets, ${i + 1})${i === last ? ' + first_selected' : ''} AS d${i}`,
  );
  const dsp = DAYS_SINCE_PREVIOUS_BUCKETS.map((_, i) => int(`sumIf(d${i}, carrier)`, `dsp_b${i}`));
  const zeroSpv = SESSIONS_PER_VISITOR_BUCKETS.map((_, i) => `toInt64(0) AS spv_b${i}`);
  const moved = DAYS_SINCE_PREVIOUS_BUCKETS.map((_, i) =>
    i === last ? `-toInt64(moved) AS dsp_b${i}` : `toInt64(0) AS dsp_b${i}`,
  );
  const sums = ['visitors', 'new_visitors', ...FREQUENCY_TOTAL_COLUMNS].map((c) => `sum(${c}) AS ${c}`);
  // Column expressions and bounds are constants of this module, never input.
  const cols = (xs: string[]) => raw(xs.join(',\n    '));
  const start = (x: string) => sql`toDateTime(toUInt32(intDiv(${raw(x)}, 2)))`;
  const firstEver = firstEverSql(p, p.from, p.to);
  // Without filters every session in the range is selected, and each pair of the set is a live
  // session in the range: the set alone gives the same (visitor, start, selected) rows' aggregates.
  const firstSessions =
    filterConditions(p).length === 0
      ? sql`(SELECT visitor_key, first_ever AS started_at, toUInt8(1) AS selected FROM ${firstEver})`
      : sql`(
        SELECT visitor_key, started_at, toUInt8(${selection}) AS selected
        FROM ${sessionsIn(p, p.from, p.to, [...selectionColumns(p), 'visitor_key'])}
        WHERE (visitor_key, started_at) IN (SELECT visitor_key, first_ever FROM ${firstEver})
      )`;
  return sql`
SELECT toString(key) AS bucket, visitors, new_visitors, ${raw(FREQUENCY_TOTAL_COLUMNS.join(', '))}
FROM (SELECT arrayJoin(${bucketList(p, interval)}) AS key) AS b
ALL LEFT JOIN
(
  SELECT key, ${cols(sums)}
  FROM
  (
    SELECT
      key,
      toInt64(count()) AS visitors,
      toInt64(0) AS new_visitors,
      ${cols(spv)},
      toInt64(sumIf(n, carrier)) AS dsp_sessions,
      toInt64(0) AS dsp_first_sessions,
      ${cols(dsp)}
    FROM
    (
      SELECT
        arrayPopFront(visits) AS later,
        arrayPopFront(arrayDifference(arrayMap(x -> toInt64(intDiv(x, 2)), visits))) AS gaps,
        arrayCount(x -> x % 2 = 1, visits) AS n,
        visits[1] % 2 AS first_selected,
        arrayDistinct(arrayMap(x -> ${bucketOf(interval, p.timezone, start('x'))}, arrayFilter(x -> x % 2 = 1, visits))) AS keys,
        ${raw(gapBuckets)},
        ${cols(perVisitor)}
      FROM
      (
        SELECT
          arraySort(if(before = 0, inside, arrayPushFront(inside, toUInt64(before) * 2))) AS visits
        FROM
        (
          SELECT
            visitor_key,
            toUInt32(maxIf(started_at, started_at < ${dateTime(p.from)})) AS before,
            groupArrayIf(toUInt64(toUInt32(started_at)) * 2 + selected, started_at >= ${dateTime(p.from)}) AS inside
          FROM
          (
            SELECT visitor_key, started_at, toUInt8(${selection}) AS selected
            FROM ${sessionsIn(p, windowStart, p.to, [...selectionColumns(p), 'visitor_key'])}
          )
          GROUP BY visitor_key
          HAVING max(selected) = 1
        )
      )
    )
    ARRAY JOIN keys AS key, arrayMap(i -> i = 1, arrayEnumerate(keys)) AS carrier
    GROUP BY key
    UNION ALL
    SELECT
      ${bucketOf(interval, p.timezone, sql`first_start`)} AS key,
      toInt64(0) AS visitors,
      toInt64(any_selected) AS new_visitors,
      ${cols(zeroSpv)},
      toInt64(0) AS dsp_sessions,
      toInt64(moved) AS dsp_first_sessions,
      ${cols(moved)}
    FROM
    (
      SELECT
        min(started_at) AS first_start,
        max(selected) AS any_selected,
        min(selected) AS moved
      FROM
      ${firstSessions}
      GROUP BY visitor_key
    )
  )
  GROUP BY key
) AS f USING key
ORDER BY key`;
}

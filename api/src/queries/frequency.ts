import { type RawSql, raw, sql } from '@stint/infra/clickhouse';
import { type ReportParams, selectionColumns, sessionSelection, sessionsIn } from './common.ts';
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
 * The whole frequency report in one pass over the sessions grouped by visitor, without window
 * functions: one row per time bucket of the range (every bucket, empty ones with zeros) with `bucket`
 * (as in the time series), `visitors` (visitors with a selected session in the bucket), `new_visitors`
 * (those of them whose first session ever is a selected session in the bucket), and the columns of
 * `FREQUENCY_TOTAL_COLUMNS`, each visitor's share of which sits in exactly one row (the first bucket
 * of its selected sessions), so that their sums over all rows are:
 * - `spv_b0`…`spv_b4`: visitors by their number of selected sessions;
 * - `dsp_sessions`: selected sessions; `dsp_first_sessions`: those with no earlier session at all;
 *   `dsp_b0`…`dsp_b4`: those by whole days since the start of the same visitor's previous session (of
 *   any kind, at any time).
 *
 * Each visitor's session starts from OPEN_BUCKET_DAYS before the range on are sorted in one array of
 * `start * 2 + selected` (a selected and an unselected session starting in the same second sort as
 * `(start, selected)` tuples would), so `arrayDifference` gives each session's gap to the previous one.
 * A session whose previous one is earlier than the window is at least that many days after it (the open
 * bucket); the first session in the window has no earlier one exactly when it is the visitor's first
 * session ever, checked once per visitor against `firstEverSql` (only visitors first seen in the
 * window can match). A visitor is new in a bucket when one of its selected sessions there is its first
 * session ever: the visitor's first session in the window is its first ever and its first selected
 * session starts in the same second.
 */
export function frequencyQuery(p: ReportParams, interval: Interval): RawSql {
  const selection = sessionSelection(p);
  const windowStart = new Date(p.from.getTime() - OPEN_BUCKET_DAYS * 86_400_000);
  const last = DAYS_SINCE_PREVIOUS_BUCKETS.length - 1;
  const spv = SESSIONS_PER_VISITOR_BUCKETS.map((b, i) =>
    b.max === null
      ? `sumIf(n >= ${b.min}, carrier) AS spv_b${i}`
      : `sumIf(n >= ${b.min} AND n <= ${b.max}, carrier) AS spv_b${i}`,
  );
  // The visitor's first session in the window, when selected and not its first ever, is in the open
  // bucket; its other selected sessions by their gap in seconds to the previous start.
  const perVisitor = DAYS_SINCE_PREVIOUS_BUCKETS.map((b, i) => {
    const lower = `g >= ${b.min_days * 86_400}`;
    const range = b.max_days === null ? lower : `${lower} AND g < ${(b.max_days + 1) * 86_400}`;
    const count = `arrayCount((x, g) -> x % 2 = 1 AND ${range}, later, gaps)`;
    return `${count}${i === last ? ' + (first_selected AND NOT is_first)' : ''} AS d${i}`;
  });
  const dsp = DAYS_SINCE_PREVIOUS_BUCKETS.map((_, i) => `sumIf(d${i}, carrier) AS dsp_b${i}`);
  // Column expressions and bounds are constants of this module, never input.
  const totals = raw([...spv, ...dsp].join(',\n  '));
  const start = (x: string) => sql`toDateTime(toUInt32(intDiv(${raw(x)}, 2)))`;
  return sql`
SELECT toString(key) AS bucket, visitors, new_visitors, ${raw(FREQUENCY_TOTAL_COLUMNS.join(', '))}
FROM (SELECT arrayJoin(${bucketList(p, interval)}) AS key) AS b
ALL LEFT JOIN
(
SELECT
  key,
  count() AS visitors,
  sum(is_new AND key = new_key) AS new_visitors,
  ${totals},
  sumIf(n, carrier) AS dsp_sessions,
  sumIf(first_selected AND is_first, carrier) AS dsp_first_sessions
FROM
(
  SELECT
    visits,
    arrayPopFront(visits) AS later,
    arrayPopFront(arrayDifference(arrayMap(x -> toInt64(intDiv(x, 2)), visits))) AS gaps,
    arrayCount(x -> x % 2 = 1, visits) AS n,
    visits[1] % 2 = 1 AS first_selected,
    (visitor_key, toUInt32(intDiv(visits[1], 2))) IN (
      SELECT visitor_key, toUInt32(first_ever) FROM ${firstEverSql(p, windowStart, p.to)}
    ) AS is_first,
    arrayFirst(x -> x % 2 = 1, visits) AS first_in_range,
    is_first AND intDiv(first_in_range, 2) = intDiv(visits[1], 2) AS is_new,
    ${bucketOf(interval, p.timezone, start('first_in_range'))} AS new_key,
    arrayDistinct(arrayMap(x -> ${bucketOf(interval, p.timezone, start('x'))}, arrayFilter(x -> x % 2 = 1, visits))) AS keys,
    ${raw(perVisitor.join(',\n    '))}
  FROM
  (
    SELECT visitor_key, arraySort(groupArray(toUInt64(toUInt32(started_at)) * 2 + toUInt8(${selection}))) AS visits
    FROM ${sessionsIn(p, windowStart, p.to, [...selectionColumns(p), 'visitor_key'])}
    GROUP BY visitor_key
    HAVING max(toUInt8(${selection})) = 1
  )
)
ARRAY JOIN keys AS key, arrayMap(i -> i = 1, arrayEnumerate(keys)) AS carrier
GROUP BY key
) AS f USING key
ORDER BY key`;
}

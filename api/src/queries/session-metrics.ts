/**
 * The session metrics of METRICS.md over the selected sessions, grouped by a key (a constant for the
 * summary, a time bucket for the time series), in one pass over the sessions without grouping per
 * visitor. A visitor is returning in a group when it had a session (any filter aside) before its first
 * selected one in the group, i.e. new exactly when one of its selected sessions in the group is its
 * first session ever: `(visitor_key, started_at)` is in the set of (visitor, first session ever) pairs,
 * from the per-visitor rollup, of the visitors first seen in the range (no other can match). Visitors
 * are counted by `visitor_key`, a 64-bit hash of `visitor_id` (METRICS.md).
 *
 * The new visitors are counted in a second branch of a UNION ALL: ClickHouse runs the branches in
 * parallel, so building that set from the rollup overlaps the scan for the other metrics (an IN set
 * in the main scan is built before the scan starts). Each key's row sums the two branches' rows.
 * Without filters every session in the range is selected, so each visitor of the set has its first
 * session ever selected, in the group of its `first_ever`: the set alone gives the new visitors, without
 * scanning the sessions again (its pairs are (key, start) of live sessions in the range, so counting
 * their keys counts the same keys the scan would match).
 */
import { type RawSql, sql } from '@stint/infra/clickhouse';
import { filterConditions, type ReportParams, rangeSessions, ratio, sessionSelection } from './common.ts';
import { firstEverSql } from './first-seen.ts';

/** Column names of a metrics row, in the order the SQL returns them. */
export const METRIC_COLUMNS = [
  'visitors',
  'sessions',
  'pageviews',
  'pages_per_session',
  'bounces',
  'bounce_rate',
  'avg_duration_s',
  'median_duration_s',
  'engaged_sessions',
  'engagement_rate',
  'avg_engaged_time_s',
  'events_per_session',
  'sessions_per_visitor',
  'new_visitors',
  'returning_visitors',
  'returning_visitor_share',
] as const;
export type MetricName = (typeof METRIC_COLUMNS)[number];
export type Metrics = Record<MetricName, number>;

/** `SELECT key, <metrics> ... GROUP BY key` over the selection; `key` is an expression of `started_at`. */
export function sessionMetricsSql(p: ReportParams, key: RawSql): RawSql {
  const selection = sessionSelection(p);
  const firstEver = firstEverSql(p, p.from, p.to);
  // `key` is an expression of `started_at`: here the start of each new visitor's first session.
  const newVisitors =
    filterConditions(p).length === 0
      ? sql`FROM (SELECT visitor_key, first_ever AS started_at FROM ${firstEver})`
      : sql`FROM ${rangeSessions(p, ['visitor_key'])}
    WHERE ${selection} AND (visitor_key, started_at) IN (SELECT visitor_key, first_ever FROM ${firstEver})`;
  return sql`
SELECT
  key,
  visitors,
  sessions,
  pageviews,
  ${ratio('pageviews', 'sessions')} AS pages_per_session,
  bounces,
  ${ratio('bounces', 'sessions')} AS bounce_rate,
  ${ratio('total_duration_s', 'sessions')} AS avg_duration_s,
  median_duration_s,
  engaged_sessions,
  ${ratio('engaged_sessions', 'sessions')} AS engagement_rate,
  ${ratio('total_engaged_ms / 1000', 'sessions')} AS avg_engaged_time_s,
  ${ratio('total_events', 'sessions')} AS events_per_session,
  ${ratio('sessions', 'visitors')} AS sessions_per_visitor,
  visitors - returning_visitors AS new_visitors,
  returning_visitors,
  ${ratio('returning_visitors', 'visitors')} AS returning_visitor_share
FROM
(
  SELECT
    key,
    sum(visitors) AS visitors,
    sum(sessions) AS sessions,
    sum(pageviews) AS pageviews,
    sum(bounces) AS bounces,
    sum(total_duration_s) AS total_duration_s,
    sum(median_duration_s) AS median_duration_s,
    sum(engaged_sessions) AS engaged_sessions,
    sum(total_engaged_ms) AS total_engaged_ms,
    sum(total_events) AS total_events,
    visitors - sum(new_visitors) AS returning_visitors
  FROM
  (
    SELECT
      ${key} AS key,
      toUInt64(uniqExact(visitor_key)) AS visitors,
      toUInt64(count()) AS sessions,
      toUInt64(sum(pageviews)) AS pageviews,
      toUInt64(sum(is_bounce)) AS bounces,
      toUInt64(sum(duration_s)) AS total_duration_s,
      toUInt64(quantileExact(0.5)(duration_s)) AS median_duration_s,
      toUInt64(sum(is_engaged)) AS engaged_sessions,
      toUInt64(sum(engaged_ms)) AS total_engaged_ms,
      toUInt64(sum(events)) AS total_events,
      toUInt64(0) AS new_visitors
    FROM ${rangeSessions(p, ['visitor_key', 'pageviews', 'is_bounce', 'duration_s', 'is_engaged', 'engaged_ms', 'events'])}
    WHERE ${selection}
    GROUP BY key
    UNION ALL
    SELECT
      ${key} AS key,
      toUInt64(0), toUInt64(0), toUInt64(0), toUInt64(0), toUInt64(0), toUInt64(0), toUInt64(0), toUInt64(0),
      toUInt64(0),
      toUInt64(uniqExact(visitor_key)) AS new_visitors
    ${newVisitors}
    GROUP BY key
  )
  GROUP BY key
)
ORDER BY key`;
}

/** Turns a metrics row from JSON (64-bit integers arrive as strings) into numbers. */
export function toMetrics(row: Record<string, unknown> | undefined): Metrics {
  const out = {} as Metrics;
  for (const name of METRIC_COLUMNS) {
    const v = Number(row?.[name] ?? 0);
    out[name] = Number.isFinite(v) ? v : 0;
  }
  return out;
}

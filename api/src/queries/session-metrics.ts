/**
 * The session metrics of METRICS.md over the selected sessions, grouped by a key (a constant for the
 * summary, a time bucket for the time series). Sessions are first grouped per (key, visitor) so that
 * "returning" can compare a visitor's first selected session in the group with the visitor's first
 * session ever, any filter aside (the LEFT JOIN with `f`, from the per-visitor rollup).
 */
import { type RawSql, sql } from '@stint/infra/clickhouse';
import { type ReportParams, rangeSessions, ratio, sessionSelection } from './common.ts';
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
    count() AS visitors,
    sum(v_sessions) AS sessions,
    sum(v_pageviews) AS pageviews,
    sum(v_bounces) AS bounces,
    sum(v_duration_s) AS total_duration_s,
    quantileExactArray(0.5)(v_durations) AS median_duration_s,
    sum(v_engaged) AS engaged_sessions,
    sum(v_engaged_ms) AS total_engaged_ms,
    sum(v_events) AS total_events,
    countIf(first_ever < v_first) AS returning_visitors
  FROM
  (
    SELECT
      ${key} AS key,
      visitor_id,
      count() AS v_sessions,
      sum(pageviews) AS v_pageviews,
      sum(is_bounce) AS v_bounces,
      sum(duration_s) AS v_duration_s,
      groupArray(duration_s) AS v_durations,
      sum(is_engaged) AS v_engaged,
      sum(engaged_ms) AS v_engaged_ms,
      sum(events) AS v_events,
      min(started_at) AS v_first
    FROM ${rangeSessions(p, ['visitor_id', 'pageviews', 'is_bounce', 'duration_s', 'is_engaged', 'engaged_ms', 'events'])}
    WHERE ${selection}
    GROUP BY key, visitor_id
  ) AS v
  ALL LEFT JOIN ${firstEverSql(p)} AS f USING visitor_id
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

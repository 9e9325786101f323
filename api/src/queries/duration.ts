import { join, type RawSql, raw, sql } from '@stint/infra/clickhouse';
import { type ReportParams, rangeSessions, ratio, sessionSelection } from './common.ts';

/** Histogram buckets of session duration in seconds: `[min_s, max_s)`, the last one open. */
export const DURATION_BUCKETS = [
  { label: '0-10s', min_s: 0, max_s: 10 },
  { label: '10-30s', min_s: 10, max_s: 30 },
  { label: '30-60s', min_s: 30, max_s: 60 },
  { label: '1-3m', min_s: 60, max_s: 180 },
  { label: '3-10m', min_s: 180, max_s: 600 },
  { label: '10-30m', min_s: 600, max_s: 1800 },
  { label: '30m+', min_s: 1800, max_s: null },
] as const;

/** One row: `sessions`, `b0`…`b6` (sessions per bucket), `avg_s`, `median_s`, `p90_s`. */
export function durationQuery(p: ReportParams): RawSql {
  const buckets = DURATION_BUCKETS.map((b, i) =>
    b.max_s === null
      ? sql`countIf(duration_s >= ${b.min_s}) AS ${raw(`b${i}`)}`
      : sql`countIf(duration_s >= ${b.min_s} AND duration_s < ${b.max_s}) AS ${raw(`b${i}`)}`,
  );
  return sql`
SELECT
  count() AS sessions,
  ${join(buckets, ',\n  ')},
  ${ratio('sum(duration_s)', 'count()')} AS avg_s,
  if(count() = 0, 0, quantileExact(0.5)(duration_s)) AS median_s,
  if(count() = 0, 0, quantileExact(0.9)(duration_s)) AS p90_s
FROM ${rangeSessions(p, ['duration_s'])}
WHERE ${sessionSelection(p)}`;
}

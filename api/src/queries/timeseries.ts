import { type RawSql, raw, sql } from '@stint/infra/clickhouse';
import { dateTime, type ReportParams } from './common.ts';
import { METRIC_COLUMNS, sessionMetricsSql } from './session-metrics.ts';

export const INTERVALS = ['hour', 'day', 'week', 'month'] as const;
export type Interval = (typeof INTERVALS)[number];

/** The bucket a session falls in, by its start in the site's zone (weeks start on Monday). */
export function bucketOf(interval: Interval, tz: string, column: RawSql): RawSql {
  switch (interval) {
    case 'hour':
      return sql`toStartOfHour(${column}, ${tz})`;
    case 'day':
      return sql`toDate(${column}, ${tz})`;
    case 'week':
      return sql`toMonday(toDate(${column}, ${tz}))`;
    case 'month':
      return sql`toStartOfMonth(toDate(${column}, ${tz}))`;
  }
}

/** Every bucket of `[from, to)`, so that empty buckets show as zero rows. */
export function bucketList(p: ReportParams, interval: Interval): RawSql {
  const tz = p.timezone;
  const first = bucketOf(interval, tz, dateTime(p.from));
  // The last second of the range, since `to` is exclusive.
  const last = bucketOf(interval, tz, sql`(${dateTime(p.to)} - 1)`);
  switch (interval) {
    case 'hour':
      return sql`arrayMap(i -> toStartOfHour(toDateTime(toUInt32(${first}) + i * 3600), ${tz}),
        range(toUInt32(intDiv(toUInt32(${last}) - toUInt32(${first}), 3600) + 1)))`;
    case 'day':
      return sql`arrayMap(i -> ${first} + i, range(toUInt32(${last} - ${first} + 1)))`;
    case 'week':
      return sql`arrayMap(i -> ${first} + i * 7, range(toUInt32(intDiv(${last} - ${first}, 7) + 1)))`;
    case 'month':
      return sql`arrayMap(i -> addMonths(${first}, i), range(toUInt32(
        (toYear(${last}) * 12 + toMonth(${last})) - (toYear(${first}) * 12 + toMonth(${first})) + 1)))`;
  }
}

/** How many buckets a range has (checked before querying, to refuse huge hour series). */
export function bucketCount(p: Pick<ReportParams, 'from' | 'to'>, interval: Interval): number {
  const seconds = (p.to.getTime() - p.from.getTime()) / 1000;
  const per = { hour: 3600, day: 86_400, week: 7 * 86_400, month: 28 * 86_400 }[interval];
  return Math.ceil(seconds / per) + 1;
}

/**
 * One row per bucket of the range (empty buckets included, all metrics 0), `bucket` as the local
 * start of the bucket: `YYYY-MM-DD hh:mm:ss` for hours, `YYYY-MM-DD` otherwise.
 */
export function timeseriesQuery(p: ReportParams, interval: Interval): RawSql {
  const metrics = sessionMetricsSql(p, bucketOf(interval, p.timezone, sql`started_at`));
  return sql`
SELECT toString(key) AS bucket, ${raw(METRIC_COLUMNS.join(', '))}
FROM (SELECT arrayJoin(${bucketList(p, interval)}) AS key) AS b
ALL LEFT JOIN (${metrics}) AS m USING key
ORDER BY key`;
}

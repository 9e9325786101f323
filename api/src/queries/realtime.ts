import { join, type RawSql, sql } from '@stint/infra/clickhouse';
import {
  dateTime,
  eventsIn,
  filterConditions,
  type ReportParams,
  selectionColumns,
  sessionsIn,
} from './common.ts';

export const REALTIME_WINDOW_S = 300;

export type RealtimeParams = Omit<ReportParams, 'from' | 'to'> & { now: Date };

const EVENT_COLUMNS = ['visitor_id', 'session_id', 'name', 'path'];

const since = (p: RealtimeParams) => new Date(p.now.getTime() - REALTIME_WINDOW_S * 1000);

/**
 * Events of the last five minutes (up to `now`; later timestamps are not live), restricted (when filters are given) to sessions that match them and
 * started within the last 7 days.
 */
function recentEvents(p: RealtimeParams): RawSql {
  const scope: ReportParams = { ...p, from: new Date(since(p).getTime() - 7 * 86_400_000), to: p.now };
  const filters = filterConditions(scope);
  const matching =
    filters.length === 0
      ? sql`1`
      : sql`session_id IN (SELECT session_id FROM ${sessionsIn(p, scope.from, p.now, [...selectionColumns(scope), 'session_id'])}
          WHERE site_id = ${p.site} AND started_at >= ${dateTime(scope.from)} AND ${join(filters, ' AND ')})`;
  return sql`site_id = ${p.site} AND ts >= ${dateTime(since(p))} AND ts <= ${dateTime(p.now)} AND ${matching}`;
}

/** One row: visitors and sessions with an event in the last 5 minutes, and their page views. */
export function realtimeQuery(p: RealtimeParams): RawSql {
  return sql`
SELECT uniqExact(visitor_id) AS visitors, uniqExact(session_id) AS sessions, countIf(name = 'pageview') AS pageviews
FROM ${eventsIn(p, since(p), new Date(p.now.getTime() + 1000), EVENT_COLUMNS)}
WHERE ${recentEvents(p)}`;
}

/** The pages viewed in the last 5 minutes, by visitors. */
export function topPagesNowQuery(p: RealtimeParams, limit: number): RawSql {
  return sql`
SELECT path, uniqExact(visitor_id) AS visitors, count() AS pageviews
FROM ${eventsIn(p, since(p), new Date(p.now.getTime() + 1000), EVENT_COLUMNS)}
WHERE ${recentEvents(p)} AND name = 'pageview'
GROUP BY path
ORDER BY visitors DESC, pageviews DESC, path
LIMIT ${limit}`;
}

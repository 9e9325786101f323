import { type RawSql, raw, sql } from '@stint/infra/clickhouse';
import {
  dateTime,
  EVENT_SLACK_S,
  eventsIn,
  eventsUntil,
  type ReportParams,
  rangeSessions,
  ratio,
  sessionSelection,
} from './common.ts';

export const BREAKDOWNS = [
  'page',
  'entry_page',
  'exit_page',
  'source',
  'medium',
  'campaign',
  'referrer',
  'country',
  'device',
  'browser',
  'os',
  'start_reason',
] as const;
export type Breakdown = (typeof BREAKDOWNS)[number];

/** The `sessions` column of each session-level breakdown (`page` is per page view, see below). */
const BREAKDOWN_COLUMNS: Record<Exclude<Breakdown, 'page'>, string> = {
  entry_page: 'entry_path',
  exit_page: 'exit_path',
  source: 'source',
  medium: 'medium',
  campaign: 'campaign',
  referrer: 'referrer_host',
  country: 'country',
  device: 'device',
  browser: 'browser',
  os: 'os',
  start_reason: 'start_reason',
};

export const BREAKDOWN_COLUMNS_OUT = [
  'key',
  'visitors',
  'sessions',
  'pageviews',
  'bounce_rate',
  'avg_duration_s',
  'engagement_rate',
] as const;

function finish(grouped: RawSql, limit: number): RawSql {
  return sql`
SELECT
  key, visitors, sessions, pageviews,
  ${ratio('bounces', 'sessions')} AS bounce_rate,
  ${ratio('total_duration_s', 'sessions')} AS avg_duration_s,
  ${ratio('engaged_sessions', 'sessions')} AS engagement_rate
FROM (${grouped})
ORDER BY visitors DESC, sessions DESC, key
LIMIT ${limit}`;
}

/**
 * The top `limit` values of a dimension, by visitors. For `page` a session counts for every path it
 * viewed (its page views of that path in `pageviews`); for the others, once under its own value.
 */
export function breakdownQuery(p: ReportParams, by: Breakdown, limit: number): RawSql {
  const selection = sessionSelection(p);
  if (by === 'page') {
    // One pass keyed by session id over the selected sessions and the page views of the range (instead
    // of grouping page views by session and path and joining): each selected session gathers the paths
    // of its page views, then counts once under each distinct path. Page views of sessions that are not
    // selected (or not live) fall away with HAVING.
    const sessionCols = ['session_id', 'visitor_id', 'is_bounce', 'duration_s', 'is_engaged'];
    return finish(
      sql`
SELECT
  path AS key,
  uniqExact(s_visitor_id) AS visitors,
  count() AS sessions,
  sum(countEqual(paths, path)) AS pageviews,
  sum(s_is_bounce) AS bounces,
  sum(s_duration_s) AS total_duration_s,
  sum(s_is_engaged) AS engaged_sessions
FROM
(
  SELECT
    anyIf(visitor_id, is_session = 1) AS s_visitor_id,
    maxIf(is_bounce, is_session = 1) AS s_is_bounce,
    maxIf(duration_s, is_session = 1) AS s_duration_s,
    maxIf(is_engaged, is_session = 1) AS s_is_engaged,
    groupArrayIf(path, is_session = 0) AS paths
  FROM
  (
    SELECT session_id, visitor_id, is_bounce, duration_s, is_engaged, toUInt8(1) AS is_session, '' AS path
    FROM ${rangeSessions(p, sessionCols)}
    WHERE ${selection}
    UNION ALL
    SELECT session_id, '', toUInt8(0), toUInt32(0), toUInt8(0), toUInt8(0), path
    FROM ${eventsIn(p, p.from, new Date(p.to.getTime() + EVENT_SLACK_S * 1000), ['session_id', 'name', 'path'])}
    WHERE site_id = ${p.site} AND name = 'pageview' AND ts >= ${dateTime(p.from)} AND ts < ${eventsUntil(p)}
  )
  GROUP BY session_id
  HAVING max(is_session) = 1
)
ARRAY JOIN arrayDistinct(paths) AS path
GROUP BY key`,
      limit,
    );
  }
  return finish(
    sql`
SELECT
  ${raw(BREAKDOWN_COLUMNS[by])} AS key,
  uniqExact(visitor_id) AS visitors,
  count() AS sessions,
  sum(pageviews) AS pageviews,
  sum(is_bounce) AS bounces,
  sum(duration_s) AS total_duration_s,
  sum(is_engaged) AS engaged_sessions
FROM ${rangeSessions(p, [BREAKDOWN_COLUMNS[by], 'visitor_id', 'pageviews', 'is_bounce', 'duration_s', 'is_engaged'])}
WHERE ${selection}
GROUP BY key`,
    limit,
  );
}

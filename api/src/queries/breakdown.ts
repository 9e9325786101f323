import { type RawSql, raw, sql } from '@stint/infra/clickhouse';
import { type ReportParams, rangeSessions, ratio, sessionSelection } from './common.ts';

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

/** The `sessions` column of each session-level breakdown (`page` reads the session's page list). */
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
    // Each selected session's page list (`page_paths`: its distinct page-view paths, `page_path_views`:
    // its page views of each), so the session counts once under every path it viewed.
    return finish(
      sql`
SELECT
  path AS key,
  uniqExact(visitor_key) AS visitors,
  count() AS sessions,
  sum(views) AS pageviews,
  sum(is_bounce) AS bounces,
  sum(duration_s) AS total_duration_s,
  sum(is_engaged) AS engaged_sessions
FROM
(
  SELECT visitor_key, page_paths, page_path_views, is_bounce, duration_s, is_engaged
  FROM ${rangeSessions(p, ['visitor_key', 'page_paths', 'page_path_views', 'is_bounce', 'duration_s', 'is_engaged'])}
  WHERE ${selection}
)
ARRAY JOIN page_paths AS path, page_path_views AS views
GROUP BY key`,
      limit,
    );
  }
  return finish(
    sql`
SELECT
  ${raw(BREAKDOWN_COLUMNS[by])} AS key,
  uniqExact(visitor_key) AS visitors,
  count() AS sessions,
  sum(pageviews) AS pageviews,
  sum(is_bounce) AS bounces,
  sum(duration_s) AS total_duration_s,
  sum(is_engaged) AS engaged_sessions
FROM ${rangeSessions(p, [BREAKDOWN_COLUMNS[by], 'visitor_key', 'pageviews', 'is_bounce', 'duration_s', 'is_engaged'])}
WHERE ${selection}
GROUP BY key`,
    limit,
  );
}

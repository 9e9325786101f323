/**
 * Bulk data for the api benchmark: N sessions and their events written straight into a ClickHouse
 * database by INSERT … SELECT over numbers() (deterministic hashes, no client round trips), shaped like
 * what the sessionizer writes: 5 events per session on average, visitors returning over 90 days.
 */
import { type ClickHouseClient, exec, ident, raw, sql } from '@stint/infra/clickhouse';

export interface BenchDataOptions {
  database: string;
  site: string;
  events: number;
  days: number;
  /** Now, as epoch seconds; the data covers [now - days, now]. */
  now: number;
}

const arr = (items: string[]) => `[${items.map((s) => `'${s}'`).join(', ')}]`;
const SOURCES = arr([
  'Google',
  'Direct',
  'Twitter',
  'Facebook',
  'Newsletter',
  'Reddit',
  'Hacker News',
  'Bing',
]);
const MEDIUMS = arr(['organic', '(none)', 'social', 'social', 'email', 'social', 'referral', 'organic']);
const COUNTRIES = arr(['US', 'DE', 'GB', 'FR', 'IN', 'BR', 'CA', 'NL', 'ES', 'JP']);
const DEVICES = arr(['desktop', 'mobile', 'mobile', 'tablet']);
const BROWSERS = arr(['Chrome', 'Safari', 'Firefox', 'Edge', 'Mobile Safari']);
const OSES = arr(['Windows', 'iOS', 'Android', 'macOS', 'Linux']);
const PATHS = arr([
  '/',
  '/pricing',
  '/features',
  '/docs',
  '/blog',
  '/signup',
  '/about',
  '/docs/sessions',
  '/blog/post-1',
  '/blog/post-2',
]);
const REASONS = arr([
  'first_visit',
  'inactivity',
  'inactivity',
  'inactivity',
  'midnight',
  'campaign',
  'max_length',
]);

/**
 * The path of event number `n` (a UInt64 expression): events 5s…5s+4 belong to session s, and those
 * with n % 5 in (0, 2, 4) are its page views, in that order (the session rows' page lists).
 */
const pathOf = (n: string) => `${PATHS}[1 + cityHash64(${n}, 98) % 10]`;

/** Per-session attributes, computed the same way for the sessions and the events of session `s`. */
function sessionExpr(s: string, days: number, now: number) {
  const h = (k: number) => `cityHash64(${s}, ${k})`;
  return {
    sessionId: `lower(hex(${h(0)}))`,
    visitorId: `lower(hex(cityHash64(${h(1)} % 400000)))`,
    startedAt: `toDateTime(${now - days * 86400} + ${h(2)} % ${days * 86400 - 3600})`,
    pageviews: `toUInt32(1 + ${h(3)} % 5)`,
    duration: `toUInt32(${h(4)} % 1200)`,
    src: `(1 + ${h(5)} % 8)`,
    country: `${COUNTRIES}[1 + ${h(6)} % 10]`,
    device: `(1 + ${h(7)} % 4)`,
    browser: `${BROWSERS}[1 + ${h(8)} % 5]`,
    os: `${OSES}[1 + ${h(9)} % 5]`,
    entry: `${PATHS}[1 + ${h(10)} % 10]`,
    exit: `${PATHS}[1 + ${h(11)} % 10]`,
    engaged: `toUInt64(${h(12)} % 600000)`,
    reason: `${REASONS}[1 + ${h(13)} % 7]`,
  };
}

export async function generateBenchData(
  client: ClickHouseClient,
  o: BenchDataOptions,
): Promise<{ sessions: number; events: number }> {
  const db = ident(o.database);
  const sessions = Math.round(o.events / 5);
  const x = sessionExpr('number', o.days, o.now);
  await exec(
    client,
    sql`INSERT INTO ${db}.sessions_raw
      (site_id, session_id, visitor_id, started_at, ended_at, duration_s, pageviews, events, engaged_ms, entry_path, exit_path,
       page_paths, page_path_views, is_bounce, is_engaged, has_conversion, source, medium, channel, campaign, referrer_host, country, device, browser, os,
       start_reason, is_final, deleted, version, updated_at)
      SELECT ${o.site}, ${raw(x.sessionId)}, ${raw(x.visitorId)},
        st, st + dur, dur, pv, pv * 2 + 1, eng,
        ${raw(x.entry)}, ${raw(x.exit)},
        arrayDistinct(viewed) AS paths, arrayMap(p -> toUInt32(countEqual(viewed, p)), paths),
        pv = 1 AND eng < 10000, pv >= 2 OR eng >= 10000, 0,
        ${raw(`${SOURCES}[src]`)}, ${raw(`${MEDIUMS}[src]`)},
        '', '', '', ${raw(x.country)}, ${raw(`${DEVICES}[dev]`)},
        ${raw(x.browser)}, ${raw(x.os)},
        ${raw(x.reason)}, 1, 0, 1, now()
      FROM (
        SELECT number, ${raw(x.startedAt)} AS st, ${raw(x.duration)} AS dur,
          ${raw(x.pageviews)} AS pv, ${raw(x.engaged)} AS eng,
          ${raw(x.src)} AS src, ${raw(x.device)} AS dev,
          ${raw(`[${[0, 2, 4].map((k) => pathOf(`toUInt64(number * 5 + ${k})`)).join(', ')}]`)} AS viewed
        FROM system.numbers LIMIT ${sessions}
      )`,
  );
  const e = sessionExpr('s', o.days, o.now);
  await exec(
    client,
    sql`INSERT INTO ${db}.events_raw
      (site_id, event_id, ts, ts_ms, received_at, session_id, visitor_id, name, url, path, hostname, referrer, referrer_host, source,
       medium, channel, campaign, engaged_ms, scroll_depth, props, country, device, browser, os, version)
      SELECT ${o.site}, lower(hex(cityHash64(number, 99))), t, toUInt64(t) * 1000, t,
        ${raw(e.sessionId)}, ${raw(e.visitorId)},
        if(number % 5 IN (0, 2, 4), 'pageview', if(number % 5 = 1, 'engagement', 'signup')),
        concat('https://', ${o.site}, p), p, ${o.site}, '', '', ${raw(`${SOURCES}[1 + cityHash64(s, 5) % 8]`)},
        ${raw(`${MEDIUMS}[1 + cityHash64(s, 5) % 8]`)}, '', '', toUInt32(number % 5 = 1) * 20000, 50, '{}',
        ${raw(e.country)}, ${raw(`${DEVICES}[1 + cityHash64(s, 7) % 4]`)},
        ${raw(e.browser)}, ${raw(e.os)}, 1
      FROM (
        SELECT number, intDiv(number, 5) AS s, ${raw(e.startedAt)} + (number % 5) * 30 AS t,
          ${raw(pathOf('number'))} AS p
        FROM system.numbers LIMIT ${o.events}
      )`,
  );
  return { sessions, events: o.events };
}

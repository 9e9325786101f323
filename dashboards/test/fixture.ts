/**
 * A small fixture of known sessions for the dashboard, Grafana and analyst-docs tests: 60 days of
 * sessions for one site (plus another site that must never show), with events, written to
 * `sessions_raw`/`events_raw` the way the sessionizer writes them. Numbers are derived from the index
 * of each session, so the tests can count the expected values straight from `SESSIONS`.
 */
import { type ClickHouseClient, insertRows } from '@stint/infra/clickhouse';

export const SITE = 'dash.example';
export const OTHER_SITE = 'other.example';
export const TZ = 'UTC';
/** The api's clock in the tests: Wednesday 2024-05-15 12:00 UTC. */
export const NOW = Date.UTC(2024, 4, 15, 12, 0, 0);
const DAY = 86_400_000;

export interface FxEvent {
  ts: number;
  name: string;
  path: string;
  engaged_ms: number;
}

export interface FxSession {
  site: string;
  id: string;
  visitor: string;
  start: number;
  events: FxEvent[];
  source: string;
  medium: string;
  referrer_host: string;
  country: string;
  device: string;
  browser: string;
  os: string;
}

const PAGES = ['/', '/pricing', '/docs', '/blog/hello'];
const SOURCES = [
  { source: 'google', medium: 'organic', referrer_host: 'www.google.com' },
  { source: 'twitter', medium: 'social', referrer_host: 't.co' },
  { source: '', medium: '', referrer_host: '' },
  { source: 'google', medium: 'organic', referrer_host: 'www.google.com' },
  { source: 'news.example', medium: 'referral', referrer_host: 'news.example' },
];
const COUNTRIES = ['US', 'DE', 'FR', 'US'];
const DEVICES = [
  { device: 'desktop', browser: 'Chrome', os: 'Windows' },
  { device: 'mobile', browser: 'Safari', os: 'iOS' },
  { device: 'desktop', browser: 'Firefox', os: 'Linux' },
];
/** Session durations (s) that land in every duration bucket. */
const DURATIONS = [5, 20, 45, 120, 400, 1200, 2400];

function session(site: string, i: number, start: number): FxSession {
  const pageviews = 1 + (i % 4);
  const duration = DURATIONS[i % DURATIONS.length] as number;
  const events: FxEvent[] = [];
  for (let k = 0; k < pageviews; k++) {
    const ts = start + Math.floor((duration * 1000 * k) / pageviews);
    events.push({ ts, name: 'pageview', path: PAGES[(i + k) % PAGES.length] as string, engaged_ms: 0 });
  }
  // The last event closes the session: an engagement beacon, sometimes long enough to count as engaged.
  events.push({
    ts: start + duration * 1000,
    name: 'engagement',
    path: events.at(-1)?.path ?? '/',
    engaged_ms: i % 3 === 0 ? 12_000 : 3_000,
  });
  if (i % 11 === 0)
    events.push({ ts: start + duration * 1000, name: 'signup', path: '/pricing', engaged_ms: 0 });
  return {
    site,
    id: `${site}-s${i}`,
    visitor: `v${i % 13}`,
    start,
    events,
    ...(SOURCES[i % SOURCES.length] as (typeof SOURCES)[number]),
    country: COUNTRIES[i % COUNTRIES.length] as string,
    ...(DEVICES[i % DEVICES.length] as (typeof DEVICES)[number]),
  };
}

function build(): FxSession[] {
  const out: FxSession[] = [];
  const today = Date.UTC(2024, 4, 15);
  let i = 0;
  for (let d = 0; d < 60; d++) {
    const perDay = 2 + (d % 4);
    for (let k = 0; k < perDay; k++, i++) {
      // Before 11:00 so that every event of today's sessions is before NOW and outside the realtime window.
      const start = today - d * DAY + ((i * 7) % 11) * 3_600_000 + ((i * 13) % 60) * 60_000;
      out.push(session(SITE, i, start));
    }
  }
  // On the site right now: two sessions with events in the last five minutes.
  for (const [n, ago] of [
    [0, 180_000],
    [1, 240_000],
  ] as const) {
    const s = session(SITE, 1000 + n, NOW - ago);
    s.visitor = `live${n}`;
    s.events = [
      { ts: NOW - ago, name: 'pageview', path: '/', engaged_ms: 0 },
      { ts: NOW - 60_000, name: 'pageview', path: '/pricing', engaged_ms: 0 },
    ];
    out.push(s);
  }
  for (let k = 0; k < 10; k++) out.push(session(OTHER_SITE, 2000 + k, today - k * DAY + 3_600_000));
  return out;
}

export const SESSIONS: readonly FxSession[] = build();

const iso = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
const isConversion = (name: string) => name !== 'pageview' && name !== 'engagement';

export function pageviewsOf(s: FxSession): FxEvent[] {
  return s.events.filter((e) => e.name === 'pageview');
}

export function sessionRow(s: FxSession): Record<string, unknown> {
  const last = s.events.reduce((a, e) => Math.max(a, e.ts), s.start);
  const pvs = pageviewsOf(s);
  const engaged = s.events.reduce((a, e) => a + e.engaged_ms, 0);
  const conversion = s.events.some((e) => isConversion(e.name));
  return {
    site_id: s.site,
    session_id: s.id,
    visitor_id: s.visitor,
    started_at: iso(s.start),
    ended_at: iso(last),
    duration_s: Math.floor((last - s.start) / 1000),
    pageviews: pvs.length,
    events: s.events.length,
    engaged_ms: engaged,
    max_scroll_depth: 0,
    entry_path: pvs[0]?.path ?? '/',
    exit_path: pvs.at(-1)?.path ?? '/',
    is_bounce: pvs.length === 1 && !conversion && engaged < 10_000 ? 1 : 0,
    is_engaged: engaged >= 10_000 || pvs.length >= 2 || conversion ? 1 : 0,
    has_conversion: conversion ? 1 : 0,
    source: s.source,
    medium: s.medium,
    channel:
      s.medium === 'organic'
        ? 'Organic Search'
        : s.medium === 'social'
          ? 'Social'
          : s.source
            ? 'Referral'
            : 'Direct',
    campaign: '',
    referrer_host: s.referrer_host,
    utm_source: '',
    utm_medium: '',
    utm_campaign: '',
    utm_content: '',
    utm_term: '',
    country: s.country,
    region: '',
    device: s.device,
    browser: s.browser,
    os: s.os,
    start_reason: 'inactivity',
    is_final: 1,
    deleted: 0,
    version: 1,
    updated_at: iso(last),
  };
}

export function eventRows(s: FxSession): Record<string, unknown>[] {
  return s.events.map((e, i) => ({
    site_id: s.site,
    event_id: `${s.id}-e${i}`,
    ts: iso(e.ts),
    ts_ms: e.ts,
    received_at: iso(e.ts),
    session_id: s.id,
    visitor_id: s.visitor,
    name: e.name,
    url: `https://${s.site}${e.path}`,
    path: e.path,
    hostname: s.site,
    referrer: s.referrer_host ? `https://${s.referrer_host}/` : '',
    referrer_host: s.referrer_host,
    source: s.source,
    medium: s.medium,
    channel: '',
    campaign: '',
    utm_source: '',
    utm_medium: '',
    utm_campaign: '',
    utm_content: '',
    utm_term: '',
    engaged_ms: e.engaged_ms,
    scroll_depth: 0,
    props: e.name === 'signup' ? '{"plan":"pro"}' : '{}',
    country: s.country,
    region: '',
    device: s.device,
    browser: s.browser,
    os: s.os,
    version: 1,
  }));
}

/** Writes the fixture into `database` (already migrated). */
export async function loadFixture(client: ClickHouseClient, database: string): Promise<void> {
  await insertRows(client, `${database}.sessions_raw`, SESSIONS.map(sessionRow));
  await insertRows(client, `${database}.events_raw`, SESSIONS.flatMap(eventRows));
}

/** Sessions of SITE that started in [from, to) (UTC ms) and match `where`. */
export function sessionsIn(
  from: number,
  to: number,
  where: (s: FxSession) => boolean = () => true,
): FxSession[] {
  return SESSIONS.filter((s) => s.site === SITE && s.start >= from && s.start < to && where(s));
}

export function totals(ss: readonly FxSession[]) {
  return {
    sessions: ss.length,
    visitors: new Set(ss.map((s) => s.visitor)).size,
    pageviews: ss.reduce((a, s) => a + pageviewsOf(s).length, 0),
  };
}

/** The UTC instant of a local (UTC) date's midnight, `days` after 2024-05-15. */
export function dayStart(daysFromToday: number): number {
  return Date.UTC(2024, 4, 15) + daysFromToday * DAY;
}

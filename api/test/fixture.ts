/**
 * A fixture of known sessions and their events, written to `sessions_raw`/`events_raw` as the
 * sessionizer would write them (same derived columns, same flags), plus rows the analyst views must
 * hide: a tombstoned session whose event moved to another session, and stale lower versions.
 * Also the independent computation of every metric, straight from the fixture's events in TypeScript.
 */
import {
  DAYS_SINCE_PREVIOUS_BUCKETS,
  DURATION_BUCKETS,
  SESSIONS_PER_VISITOR_BUCKETS,
} from '../src/queries/index.ts';

export interface FxEvent {
  ts: number;
  name: string;
  path: string;
  engaged_ms: number;
}

export interface FxAttrs {
  source: string;
  medium: string;
  campaign: string;
  referrer_host: string;
  country: string;
  device: string;
  browser: string;
  os: string;
  start_reason: string;
}

export interface FxSession extends FxAttrs {
  site: string;
  id: string;
  visitor: string;
  events: FxEvent[];
}

export const SITE_A = 'a.example';
export const SITE_B = 'b.example';
export const TZ_A = 'America/New_York';
/** The clock the api is given in tests: realtime looks back 5 minutes from here. */
export const NOW = Date.UTC(2024, 2, 12, 15, 0, 0);
/** The report range of most tests: from=2024-03-08&to=2024-03-12 in New York, by hand (EST before the 10th, EDT after). */
export const RANGE = 'from=2024-03-08&to=2024-03-12';
export const FROM = Date.UTC(2024, 2, 8, 5);
export const TO = Date.UTC(2024, 2, 13, 4);

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PATHS = ['/', '/pricing', '/blog/a', '/docs', "/o'brien"];
const ATTRS = {
  source: ['', 'google', 'twitter', 'news.example'],
  medium: ['', 'organic', 'social', 'referral'],
  campaign: ['', "spring'24", 'launch'],
  referrer_host: ['', 'www.google.com', 't.co'],
  country: ['US', 'DE', 'FR', ''],
  device: ['desktop', 'mobile', 'tablet'],
  browser: ['Chrome', 'Firefox', 'Safari'],
  os: ['Windows', 'macOS', 'iOS', 'Android'],
  start_reason: ['first_visit', 'inactivity', 'midnight', 'campaign'],
};

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}

function makeSession(r: () => number, site: string, visitor: string, start: number, n: number): FxSession {
  const events: FxEvent[] = [];
  let t = start;
  const pageviews = 1 + Math.floor(r() * 4);
  // Gaps chosen so that durations land in every histogram bucket.
  const gapScale = pick(r, [0, 4, 15, 40, 120, 400, 1300]);
  for (let i = 0; i < pageviews; i++) {
    if (i > 0) t += Math.floor((0.5 + r()) * gapScale * 1000) + 1000;
    events.push({ ts: t, name: 'pageview', path: pick(r, PATHS), engaged_ms: 0 });
    if (r() < 0.5) {
      t += 500;
      events.push({
        ts: t,
        name: 'engagement',
        path: events.at(-1)?.path ?? '/',
        engaged_ms: Math.floor(r() * 25_000),
      });
    }
  }
  if (r() < 0.15) events.push({ ts: t + 300, name: 'signup', path: '/pricing', engaged_ms: 0 });
  const attrs = Object.fromEntries(
    Object.entries(ATTRS).map(([k, xs]) => [k, pick(r, xs)]),
  ) as unknown as FxAttrs;
  return { site, id: `${site}-s${n}`, visitor, events, ...attrs };
}

/** The logical truth: the sessions the views must show. */
export function buildSessions(): FxSession[] {
  const r = rng(42);
  const out: FxSession[] = [];
  let n = 0;
  const day = 86_400_000;
  const rangeStart = Date.UTC(2024, 2, 6);
  for (let v = 0; v < 40; v++) {
    const visitor = `visitor-a-${String(v).padStart(3, '0')}`;
    // Older history for some visitors: they come back as returning visitors.
    if (r() < 0.35)
      out.push(makeSession(r, SITE_A, visitor, Date.UTC(2024, 0, 10) + Math.floor(r() * 20 * day), n++));
    const count = v === 0 ? 13 : 1 + Math.floor(r() * (v % 5 === 0 ? 7 : 3));
    for (let i = 0; i < count; i++) {
      // Visitor 0 comes 13 times inside the reported range (the 11+ bucket); others anywhere around it.
      const start =
        v === 0 ? Date.UTC(2024, 2, 8, 6) + i * 8 * 3_600_000 : rangeStart + Math.floor(r() * 9 * day);
      out.push(makeSession(r, SITE_A, visitor, Math.floor(start / 1000) * 1000, n++));
    }
  }
  // On both sides of the range's local-midnight edges (New York: from 2024-03-08 05:00Z, to 2024-03-13 04:00Z).
  for (const start of [
    Date.UTC(2024, 2, 8, 4, 59, 59),
    Date.UTC(2024, 2, 8, 5, 0, 0),
    Date.UTC(2024, 2, 13, 3, 59, 59),
    Date.UTC(2024, 2, 13, 4, 0, 0),
  ]) {
    out.push(makeSession(r, SITE_A, `visitor-edge-${n}`, start, n++));
  }
  // Active now (realtime): events within the last 5 minutes, and one older session.
  for (const [visitor, start] of [
    ['visitor-live-1', NOW - 200_000],
    ['visitor-live-2', NOW - 120_000],
    ['visitor-live-3', NOW - 600_000],
  ] as const) {
    const s = makeSession(r, SITE_A, visitor, start, n++);
    s.events = [
      { ts: start, name: 'pageview', path: '/', engaged_ms: 0 },
      {
        ts: start + 30_000,
        name: 'pageview',
        path: visitor === 'visitor-live-2' ? '/pricing' : '/docs',
        engaged_ms: 0,
      },
    ];
    out.push(s);
  }
  // Another site with the same paths and visitors' names: never visible to site A's reports.
  for (let i = 0; i < 12; i++) {
    out.push(
      makeSession(
        r,
        SITE_B,
        `visitor-a-${String(i).padStart(3, '0')}`,
        Date.UTC(2024, 2, 9) + i * 3_600_000,
        n++,
      ),
    );
  }
  return out;
}

const iso = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

function isConversion(name: string): boolean {
  return name !== 'pageview' && name !== 'engagement';
}

/** The session row the sessionizer writes for a session (mirrors its documented derivations). */
export function sessionRow(s: FxSession, version: number, deleted = 0): Record<string, unknown> {
  const first = s.events[0] as FxEvent;
  const last = s.events.at(-1) as FxEvent;
  const pvs = s.events.filter((e) => e.name === 'pageview');
  const engaged = s.events.reduce((a, e) => a + e.engaged_ms, 0);
  const conversion = s.events.some((e) => isConversion(e.name));
  // The page list: distinct page-view paths in the order of their first view, and views per path.
  const views = new Map<string, number>();
  for (const e of pvs) views.set(e.path, (views.get(e.path) ?? 0) + 1);
  return {
    site_id: s.site,
    session_id: s.id,
    visitor_id: s.visitor,
    started_at: iso(first.ts),
    ended_at: iso(last.ts),
    duration_s: Math.floor((last.ts - first.ts) / 1000),
    pageviews: pvs.length,
    events: s.events.length,
    engaged_ms: engaged,
    max_scroll_depth: 0,
    entry_path: pvs[0]?.path ?? first.path,
    exit_path: pvs.at(-1)?.path ?? last.path,
    page_paths: [...views.keys()],
    page_path_views: [...views.values()],
    is_bounce: pvs.length === 1 && !conversion && engaged < 10_000 ? 1 : 0,
    is_engaged: engaged >= 10_000 || pvs.length >= 2 || conversion ? 1 : 0,
    has_conversion: conversion ? 1 : 0,
    source: s.source,
    medium: s.medium,
    channel: '',
    campaign: s.campaign,
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
    start_reason: s.start_reason,
    is_final: 1,
    deleted,
    version,
    updated_at: iso(last.ts),
  };
}

export function eventRow(
  s: FxSession,
  e: FxEvent,
  i: number,
  version: number,
  sessionId = s.id,
): Record<string, unknown> {
  return {
    site_id: s.site,
    event_id: `${s.id}-e${i}`,
    ts: iso(e.ts),
    ts_ms: e.ts,
    received_at: iso(e.ts),
    session_id: sessionId,
    visitor_id: s.visitor,
    name: e.name,
    url: `https://${s.site}${e.path}`,
    path: e.path,
    hostname: s.site,
    referrer: '',
    referrer_host: s.referrer_host,
    source: s.source,
    medium: s.medium,
    channel: '',
    campaign: s.campaign,
    utm_source: '',
    utm_medium: '',
    utm_campaign: '',
    utm_content: '',
    utm_term: '',
    engaged_ms: e.engaged_ms,
    scroll_depth: 0,
    props: '{}',
    country: s.country,
    region: '',
    device: s.device,
    browser: s.browser,
    os: s.os,
    version,
  };
}

/**
 * Raw rows for the sessions, plus what the views must hide:
 *  - every session of site A with an even index is first written at version 1 with wrong numbers;
 *  - a ghost session that held the first event of the first in-range session is tombstoned, its event
 *    rewritten (higher version) with the real session id.
 */
export function rawRows(sessions: readonly FxSession[]): {
  sessions: Record<string, unknown>[];
  events: Record<string, unknown>[];
} {
  const sRows: Record<string, unknown>[] = [];
  const eRows: Record<string, unknown>[] = [];
  sessions.forEach((s, idx) => {
    if (idx % 2 === 0) {
      sRows.push({
        ...sessionRow(s, 1),
        duration_s: 99_999,
        pageviews: 77,
        is_bounce: 1,
        entry_path: '/stale',
        page_paths: ['/stale'],
        page_path_views: [77],
      });
    }
    sRows.push(sessionRow(s, 3));
    s.events.forEach((e, i) => {
      eRows.push(eventRow(s, e, i, 3));
    });
  });
  const victim = sessions.find(
    (s) => s.site === SITE_A && s.events[0] && s.events[0].ts > Date.UTC(2024, 2, 9),
  ) as FxSession;
  const ghost: FxSession = { ...victim, id: `${victim.id}-ghost`, events: victim.events.slice(0, 1) };
  sRows.push(sessionRow(ghost, 1));
  sRows.push(sessionRow(ghost, 2, 1));
  eRows.push(eventRow(victim, victim.events[0] as FxEvent, 0, 1, ghost.id));
  // A cookieless visit merged into a session opened under another visitor id: a tombstone of a visitor
  // (new in the range) two days before that visitor's first live session. It must not make the visitor
  // returning, nor give its first session a previous one.
  const newcomer = firstNewVisitorInRange(sessions);
  const firstOf = (v: string) =>
    Math.min(...sessions.filter((s) => s.site === SITE_A && s.visitor === v).map((s) => start(s)));
  const early = firstOf(newcomer) - 2 * 86_400_000;
  const merged: FxSession = {
    ...(sessions.find((s) => s.visitor === newcomer) as FxSession),
    id: `${newcomer}-merged`,
    events: [{ ts: early, name: 'pageview', path: '/', engaged_ms: 0 }],
  };
  sRows.push(sessionRow(merged, 4));
  sRows.push(sessionRow(merged, 5, 1));
  return { sessions: sRows, events: eRows };
}

/** A visitor of site A whose first session starts a day or more into the api tests' range. */
export function firstNewVisitorInRange(sessions: readonly FxSession[]): string {
  const first = new Map<string, number>();
  for (const s of sessions) {
    if (s.site !== SITE_A) continue;
    first.set(s.visitor, Math.min(first.get(s.visitor) ?? Infinity, start(s)));
  }
  for (const [v, t] of first) if (t >= Date.UTC(2024, 2, 10, 12)) return v;
  throw new Error('the fixture has no visitor first seen inside the range');
}

// ---------------------------------------------------------------- independent computation

export type Filters = Partial<
  Record<
    | 'page'
    | 'entry_page'
    | 'source'
    | 'medium'
    | 'campaign'
    | 'referrer'
    | 'country'
    | 'device'
    | 'browser'
    | 'os',
    string
  >
>;

const start = (s: FxSession) => (s.events[0] as FxEvent).ts;
const pageviewsOf = (s: FxSession) => s.events.filter((e) => e.name === 'pageview');
const durationOf = (s: FxSession) => Math.floor(((s.events.at(-1) as FxEvent).ts - start(s)) / 1000);
const engagedMsOf = (s: FxSession) => s.events.reduce((a, e) => a + e.engaged_ms, 0);
const conversionOf = (s: FxSession) => s.events.some((e) => isConversion(e.name));
export const isEngaged = (s: FxSession) =>
  engagedMsOf(s) >= 10_000 || pageviewsOf(s).length >= 2 || conversionOf(s);
export const isBounce = (s: FxSession) =>
  pageviewsOf(s).length === 1 && !conversionOf(s) && engagedMsOf(s) < 10_000;
const entryOf = (s: FxSession) => pageviewsOf(s)[0]?.path ?? (s.events[0] as FxEvent).path;
const exitOf = (s: FxSession) => pageviewsOf(s).at(-1)?.path ?? (s.events.at(-1) as FxEvent).path;

export function matches(s: FxSession, f: Filters): boolean {
  if (f.page !== undefined && !pageviewsOf(s).some((e) => e.path === f.page)) return false;
  if (f.entry_page !== undefined && entryOf(s) !== f.entry_page) return false;
  if (f.referrer !== undefined && s.referrer_host !== f.referrer) return false;
  for (const k of ['source', 'medium', 'campaign', 'country', 'device', 'browser', 'os'] as const) {
    if (f[k] !== undefined && s[k] !== f[k]) return false;
  }
  return true;
}

export function select(all: readonly FxSession[], site: string, from: number, to: number, f: Filters = {}) {
  return all.filter((s) => s.site === site && start(s) >= from && start(s) < to && matches(s, f));
}

const div = (a: number, b: number) => (b === 0 ? 0 : a / b);
const quantile = (xs: number[], level: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : (sorted[Math.floor(level * sorted.length)] as number);
};

/** Every metric of METRICS.md, from events. `all` is every session ever (for "returning"). */
export function expectedMetrics(selected: readonly FxSession[], all: readonly FxSession[]) {
  const visitors = new Map<string, number>();
  for (const s of selected) visitors.set(s.visitor, Math.min(visitors.get(s.visitor) ?? Infinity, start(s)));
  let returning = 0;
  for (const [v, firstSelected] of visitors) {
    if (all.some((s) => s.site === selected[0]?.site && s.visitor === v && start(s) < firstSelected))
      returning++;
  }
  const sessions = selected.length;
  const pageviews = selected.reduce((a, s) => a + pageviewsOf(s).length, 0);
  const bounces = selected.filter(isBounce).length;
  const engaged = selected.filter(isEngaged).length;
  const durations = selected.map(durationOf);
  return {
    visitors: visitors.size,
    sessions,
    pageviews,
    pages_per_session: div(pageviews, sessions),
    bounces,
    bounce_rate: div(bounces, sessions),
    avg_duration_s: div(
      durations.reduce((a, d) => a + d, 0),
      sessions,
    ),
    median_duration_s: quantile(durations, 0.5),
    engaged_sessions: engaged,
    engagement_rate: div(engaged, sessions),
    avg_engaged_time_s: div(selected.reduce((a, s) => a + engagedMsOf(s), 0) / 1000, sessions),
    events_per_session: div(
      selected.reduce((a, s) => a + s.events.length, 0),
      sessions,
    ),
    sessions_per_visitor: div(sessions, visitors.size),
    new_visitors: visitors.size - returning,
    returning_visitors: returning,
    returning_visitor_share: div(returning, visitors.size),
  };
}

/** Local calendar fields of an instant, via Intl (independent of ClickHouse's zone functions). */
function localParts(ms: number, tz: string) {
  const f = new Intl.DateTimeFormat('en-CA', {
    timeZone: tz,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
  });
  const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return { date: `${p.year}-${p.month}-${p.day}`, hour: p.hour as string };
}

export function bucketLabel(ms: number, tz: string, interval: 'hour' | 'day' | 'week' | 'month'): string {
  const { date, hour } = localParts(ms, tz);
  if (interval === 'hour') return `${date} ${hour}:00:00`;
  if (interval === 'day') return date;
  if (interval === 'month') return `${date.slice(0, 8)}01`;
  const d = new Date(`${date}T00:00:00Z`);
  const back = (d.getUTCDay() + 6) % 7;
  return new Date(d.getTime() - back * 86_400_000).toISOString().slice(0, 10);
}

export function expectedTimeseries(
  selected: readonly FxSession[],
  all: readonly FxSession[],
  tz: string,
  interval: 'hour' | 'day' | 'week' | 'month',
) {
  const groups = new Map<string, FxSession[]>();
  for (const s of selected) {
    const k = bucketLabel(start(s), tz, interval);
    groups.set(k, [...(groups.get(k) ?? []), s]);
  }
  return new Map([...groups].map(([k, ss]) => [k, expectedMetrics(ss, all)]));
}

const BREAKDOWN_KEY: Record<string, (s: FxSession) => string> = {
  entry_page: entryOf,
  exit_page: exitOf,
  source: (s) => s.source,
  medium: (s) => s.medium,
  campaign: (s) => s.campaign,
  referrer: (s) => s.referrer_host,
  country: (s) => s.country,
  device: (s) => s.device,
  browser: (s) => s.browser,
  os: (s) => s.os,
  start_reason: (s) => s.start_reason,
};

export function expectedBreakdown(selected: readonly FxSession[], by: string) {
  const groups = new Map<string, { s: FxSession; pageviews: number }[]>();
  for (const s of selected) {
    if (by === 'page') {
      const counts = new Map<string, number>();
      for (const e of pageviewsOf(s)) counts.set(e.path, (counts.get(e.path) ?? 0) + 1);
      for (const [path, c] of counts) groups.set(path, [...(groups.get(path) ?? []), { s, pageviews: c }]);
    } else {
      const k = (BREAKDOWN_KEY[by] as (s: FxSession) => string)(s);
      groups.set(k, [...(groups.get(k) ?? []), { s, pageviews: pageviewsOf(s).length }]);
    }
  }
  return [...groups].map(([key, xs]) => ({
    key,
    visitors: new Set(xs.map((x) => x.s.visitor)).size,
    sessions: xs.length,
    pageviews: xs.reduce((a, x) => a + x.pageviews, 0),
    bounce_rate: div(xs.filter((x) => isBounce(x.s)).length, xs.length),
    avg_duration_s: div(
      xs.reduce((a, x) => a + durationOf(x.s), 0),
      xs.length,
    ),
    engagement_rate: div(xs.filter((x) => isEngaged(x.s)).length, xs.length),
  }));
}

export function expectedDuration(selected: readonly FxSession[]) {
  const d = selected.map(durationOf);
  return {
    sessions: d.length,
    buckets: DURATION_BUCKETS.map(
      (b) => d.filter((x) => x >= b.min_s && (b.max_s === null || x < b.max_s)).length,
    ),
    median_s: quantile(d, 0.5),
    p90_s: quantile(d, 0.9),
    avg_s: div(
      d.reduce((a, x) => a + x, 0),
      d.length,
    ),
  };
}

export function expectedFrequency(selected: readonly FxSession[], all: readonly FxSession[]) {
  const perVisitor = new Map<string, number>();
  for (const s of selected) perVisitor.set(s.visitor, (perVisitor.get(s.visitor) ?? 0) + 1);
  const spv = SESSIONS_PER_VISITOR_BUCKETS.map(
    (b) => [...perVisitor.values()].filter((n) => n >= b.min && (b.max === null || n <= b.max)).length,
  );
  const gaps: (number | null)[] = selected.map((s) => {
    const earlier = all
      .filter((o) => o.site === s.site && o.visitor === s.visitor && start(o) < start(s))
      .map(start);
    return earlier.length === 0 ? null : Math.floor((start(s) - Math.max(...earlier)) / 86_400_000);
  });
  return {
    visitors: perVisitor.size,
    sessions_per_visitor: spv,
    first_sessions: gaps.filter((g) => g === null).length,
    days_since_previous: DAYS_SINCE_PREVIOUS_BUCKETS.map(
      (b) =>
        gaps.filter((g) => g !== null && g >= b.min_days && (b.max_days === null || g <= b.max_days)).length,
    ),
  };
}

export function expectedRealtime(all: readonly FxSession[], site: string, now: number) {
  const events = all.flatMap((s) =>
    s.site === site
      ? s.events.filter((e) => e.ts >= now - 300_000 && e.ts <= now).map((e) => ({ s, e }))
      : [],
  );
  const pages = new Map<string, { visitors: Set<string>; pageviews: number }>();
  for (const { s, e } of events) {
    if (e.name !== 'pageview') continue;
    const p = pages.get(e.path) ?? { visitors: new Set(), pageviews: 0 };
    p.visitors.add(s.visitor);
    p.pageviews++;
    pages.set(e.path, p);
  }
  return {
    visitors: new Set(events.map((x) => x.s.visitor)).size,
    sessions: new Set(events.map((x) => x.s.id)).size,
    pageviews: events.filter((x) => x.e.name === 'pageview').length,
    top_pages: [...pages].map(([path, p]) => ({ path, visitors: p.visitors.size, pageviews: p.pageviews })),
  };
}

/** Filters as query-string parameters, each `&key=value`. */
export function qs(filters: Filters): string {
  return Object.entries(filters)
    .map(([k, v]) => `&${k}=${encodeURIComponent(v as string)}`)
    .join('');
}

/** Filters the report tests run with: none, single ones, pairs, quotes and the empty value. */
export const FILTER_CASES: Filters[] = [
  {},
  { country: 'US' },
  { source: '' },
  { page: "/o'brien" },
  { entry_page: '/pricing', device: 'desktop' },
  { campaign: "spring'24" },
  { medium: 'social', browser: 'Firefox' },
  { referrer: 't.co', os: 'iOS' },
];

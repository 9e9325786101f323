/**
 * The session rules as pure functions over one visitor's events sorted by event time:
 * where sessions split, why, and what a session row says. No state, no I/O.
 */
import { hash } from 'node:crypto';
import { isConversion, type KafkaEvent, PAGEVIEW } from '@stint/collector/contract';
import type { EventRow, SessionRow, SiteSettings, StartReason } from './types.ts';

/** Engaged time from which a session is engaged (GA4) and no longer a bounce. */
export const ENGAGED_MS = 10_000;

export interface HeldEvent {
  e: KafkaEvent;
  offset: number;
  /** The session id last written for this event ('' before the first write). */
  writtenSession: string;
  /** The version of this event's row owed to the next drain; 0 when none is owed. */
  rowVersion: number;
  /** The offset of the last duplicate of this event seen, if any. */
  dupOffset?: number;
  /** Local calendar day in the site's time zone, computed on demand. */
  day?: string;
  /** The id of the session this event opens, computed on demand. */
  openId?: string;
}

/** Total order of one visitor's events: event time, then event id (ties must not depend on arrival). */
export function compareHeld(a: HeldEvent, b: HeldEvent): number {
  return a.e.ts - b.e.ts || (a.e.event_id < b.e.event_id ? -1 : a.e.event_id > b.e.event_id ? 1 : 0);
}

/** Deterministic session id: a hash of site, visitor and the event that opened the session. */
export function sessionId(site: string, visitor: string, openingEventId: string): string {
  return hash('sha256', `${site}\u001f${visitor}\u001f${openingEventId}`, 'hex').slice(0, 32);
}

const dayFormats = new Map<string, Intl.DateTimeFormat>();
/** The calendar day (YYYY-MM-DD) of `ts` in `timeZone`. */
export function localDay(ts: number, timeZone: string): string {
  let f = dayFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    dayFormats.set(timeZone, f);
  }
  return f.format(ts);
}

function dayOf(h: HeldEvent, timeZone: string): string {
  h.day ??= localDay(h.e.ts, timeZone);
  return h.day;
}

function bareHost(host: string): string {
  return host.startsWith('www.') ? host.slice(4) : host;
}

/**
 * The campaign an event carries, or null when it carries none. Only page views count: a new
 * non-empty UTM campaign, or a referrer from another host (a new external referrer).
 */
export function campaignOf(e: KafkaEvent): string | null {
  if (e.name !== PAGEVIEW) return null;
  if (e.utm_campaign !== '') return `c:${e.utm_campaign}`;
  if (e.referrer_host !== '' && bareHost(e.referrer_host) !== bareHost(e.hostname))
    return `r:${e.referrer_host}`;
  return null;
}

export interface Span {
  start: number;
  /** Exclusive. */
  end: number;
  reason: StartReason;
}

/** Sessions of one visitor's sorted events, extendable as events are appended in order. */
export interface Split {
  spans: Span[];
  /** Events covered so far. */
  covered: number;
  /** The campaign in force at the last covered event. */
  campaign: string;
}

export function emptySplit(): Split {
  return { spans: [], covered: 0, campaign: '' };
}

/**
 * Extends `split` over `events[split.covered..]`. `horizonMs` is how far back the sessionizer
 * remembers a visitor (gap + retention): a session with no earlier event of its visitor within the
 * horizon is a `first_visit`, whether or not older state happens to be still in memory, so the reason
 * never depends on when state was evicted.
 */
export function extendSessions(
  events: readonly HeldEvent[],
  split: Split,
  s: SiteSettings,
  horizonMs: number,
): void {
  const spans = split.spans;
  let cur = spans[spans.length - 1];
  let startTs = cur ? (events[cur.start] as HeldEvent).e.ts : 0;
  let lastTs = split.covered > 0 ? (events[split.covered - 1] as HeldEvent).e.ts : 0;
  let campaign = split.campaign;
  for (let i = split.covered; i < events.length; i++) {
    const h = events[i] as HeldEvent;
    const ts = h.e.ts;
    let reason: StartReason | null = null;
    if (!cur) reason = 'first_visit';
    else if (ts - lastTs > horizonMs) reason = 'first_visit';
    else if (ts - lastTs > s.gapMs) reason = 'inactivity';
    else if (ts - startTs >= s.maxLengthMs) reason = 'max_length';
    else if (s.splitMidnight && dayOf(h, s.timeZone) !== dayOf(events[i - 1] as HeldEvent, s.timeZone))
      reason = 'midnight';
    else if (s.splitCampaign) {
      const c = campaignOf(h.e);
      if (c !== null && c !== campaign) reason = 'campaign';
    }
    if (reason !== null || !cur) {
      cur = { start: i, end: i + 1, reason: reason ?? 'first_visit' };
      spans.push(cur);
      startTs = ts;
      campaign = campaignOf(h.e) ?? '';
    } else {
      cur.end = i + 1;
      const c = campaignOf(h.e);
      if (c !== null) campaign = c;
    }
    lastTs = ts;
  }
  split.covered = events.length;
  split.campaign = campaign;
}

/** Splits one visitor's sorted events into sessions (see `extendSessions`). */
export function splitSessions(events: readonly HeldEvent[], s: SiteSettings, horizonMs: number): Span[] {
  const split = emptySplit();
  extendSessions(events, split, s, horizonMs);
  return split.spans;
}

const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => (i < 10 ? `0${i}` : String(i)));
const pad = (n: number) => TWO_DIGITS[n] ?? String(n);
let dayNumber = Number.NaN;
let dayText = '';

/** UTC `YYYY-MM-DD hh:mm:ss` for ClickHouse DateTime columns. Called for every row: the date part is memoized. */
export function dateTime(ms: number): string {
  const sec = Math.floor(ms / 1000);
  const day = Math.floor(sec / 86_400);
  if (day !== dayNumber) {
    const d = new Date(day * 86_400_000);
    dayText = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} `;
    dayNumber = day;
  }
  let rest = sec - day * 86_400;
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  return `${dayText}${pad(h)}:${pad(m)}:${pad(rest - m * 60)}`;
}

/** The row of the session `span` of a visitor's sorted events, as written at `version`. */
export function sessionRow(
  events: readonly HeldEvent[],
  span: Span,
  isFinal: boolean,
  version: number,
  updatedAt: string,
): SessionRow {
  const first = (events[span.start] as HeldEvent).e;
  const last = (events[span.end - 1] as HeldEvent).e;
  let pageviews = 0;
  let engaged = 0;
  let maxScroll = 0;
  let conversion = false;
  let entry = '';
  let exit = '';
  const paths: string[] = [];
  const views: number[] = [];
  for (let i = span.start; i < span.end; i++) {
    const e = (events[i] as HeldEvent).e;
    if (e.name === PAGEVIEW) {
      pageviews++;
      if (pageviews === 1) entry = e.path;
      exit = e.path;
      // Sessions view a handful of distinct paths: a linear search beats a Map here.
      const at = paths.indexOf(e.path);
      if (at < 0) {
        paths.push(e.path);
        views.push(1);
      } else views[at] = (views[at] as number) + 1;
    } else if (isConversion(e.name)) conversion = true;
    engaged += e.engaged_ms;
    if (e.scroll_depth > maxScroll) maxScroll = e.scroll_depth;
  }
  // A session without a page view (only custom events) still has an entry: its first event's path.
  if (pageviews === 0) {
    entry = first.path;
    exit = last.path;
  }
  const opening = events[span.start] as HeldEvent;
  opening.openId ??= sessionId(first.site_id, first.visitor_id, first.event_id);
  return {
    site_id: first.site_id,
    session_id: opening.openId,
    visitor_id: first.visitor_id,
    started_at: dateTime(first.ts),
    ended_at: dateTime(last.ts),
    duration_s: Math.floor((last.ts - first.ts) / 1000),
    pageviews,
    events: span.end - span.start,
    engaged_ms: engaged,
    max_scroll_depth: maxScroll,
    entry_path: entry,
    exit_path: exit,
    page_paths: paths,
    page_path_views: views,
    is_bounce: pageviews === 1 && !conversion && engaged < ENGAGED_MS ? 1 : 0,
    is_engaged: engaged >= ENGAGED_MS || pageviews >= 2 || conversion ? 1 : 0,
    has_conversion: conversion ? 1 : 0,
    source: first.source,
    medium: first.medium,
    channel: first.channel,
    campaign: first.campaign,
    referrer_host: first.referrer_host,
    utm_source: first.utm_source,
    utm_medium: first.utm_medium,
    utm_campaign: first.utm_campaign,
    utm_content: first.utm_content,
    utm_term: first.utm_term,
    country: first.country,
    region: first.region,
    device: first.device,
    browser: first.browser,
    os: first.os,
    start_reason: span.reason,
    is_final: isFinal ? 1 : 0,
    deleted: 0,
    version,
    updated_at: updatedAt,
  };
}

function emptyProps(p: Record<string, string>): boolean {
  for (const _ in p) return false;
  return true;
}

export function eventRow(e: KafkaEvent, session: string, version: number): EventRow {
  return {
    site_id: e.site_id,
    event_id: e.event_id,
    ts: dateTime(e.ts),
    ts_ms: e.ts,
    received_at: dateTime(e.received_at),
    session_id: session,
    visitor_id: e.visitor_id,
    name: e.name,
    url: e.url,
    path: e.path,
    hostname: e.hostname,
    referrer: e.referrer,
    referrer_host: e.referrer_host,
    source: e.source,
    medium: e.medium,
    channel: e.channel,
    campaign: e.campaign,
    utm_source: e.utm_source,
    utm_medium: e.utm_medium,
    utm_campaign: e.utm_campaign,
    utm_content: e.utm_content,
    utm_term: e.utm_term,
    engaged_ms: e.engaged_ms,
    scroll_depth: e.scroll_depth,
    props: emptyProps(e.props) ? '{}' : JSON.stringify(e.props),
    country: e.country,
    region: e.region,
    device: e.device,
    browser: e.browser,
    os: e.os,
    version,
  };
}

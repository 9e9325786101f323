/**
 * Types of the pure session state machine. The row types mirror the ClickHouse tables
 * `events_raw` and `sessions_raw` (infra/clickhouse/migrations) column for column, so the sink can
 * insert them as they are.
 */
import type { KafkaEvent } from '@stint/collector/contract';

export type StartReason = 'first_visit' | 'inactivity' | 'midnight' | 'campaign' | 'max_length';

/** Per-site settings, read from the `sites` table by the service. */
export interface SiteSettings {
  gapMs: number;
  maxLengthMs: number;
  splitMidnight: boolean;
  splitCampaign: boolean;
  /** IANA time zone for the midnight split. */
  timeZone: string;
}

export const DEFAULT_SITE_SETTINGS: SiteSettings = {
  gapMs: 30 * 60_000,
  maxLengthMs: 24 * 3600_000,
  splitMidnight: false,
  splitCampaign: false,
  timeZone: 'UTC',
};

export interface StateConfig {
  /** Allowed lateness: the watermark trails the largest event time seen by this much. */
  latenessMs: number;
  /**
   * How long a visitor's state is kept after all its sessions are final. A very late event within
   * this window is merged exactly; after it the visitor's state is gone (bounded memory).
   */
  retentionMs: number;
  /**
   * How many messages of the partition a visitor state outlives its last message, on top of
   * `retentionMs`: a state is dropped only when both have passed. This keeps the state of a very late
   * event (an import, a backfill) for the next events of that visitor, which arrive soon after it in the
   * log though far behind the watermark. Counted in offsets, so it never depends on wall-clock time.
   */
  retentionMessages: number;
  /**
   * How far a site's event time may trail the partition's largest event time before it is dragged
   * along: each site has its own watermark, max(site's largest time, partition's largest time − skew)
   * − lateness. Sites sharing a partition are independent streams within the skew; beyond it, a quiet
   * site's sessions still become final and its states are still dropped (bounded memory and replay).
   */
  siteSkewMs: number;
  settingsFor: (siteId: string) => SiteSettings;
}

export const DEFAULT_LATENESS_MS = 2 * 60_000;
export const DEFAULT_RETENTION_MS = 10 * 60_000;
export const DEFAULT_RETENTION_MESSAGES = 10_000;
export const DEFAULT_SITE_SKEW_MS = 60 * 60_000;

/** One Kafka message as the state machine sees it. */
export interface SourceRecord {
  offset: number;
  event: KafkaEvent;
}

export interface EventRow {
  site_id: string;
  event_id: string;
  ts: string;
  ts_ms: number;
  received_at: string;
  session_id: string;
  visitor_id: string;
  name: string;
  url: string;
  path: string;
  hostname: string;
  referrer: string;
  referrer_host: string;
  source: string;
  medium: string;
  channel: string;
  campaign: string;
  utm_source: string;
  utm_medium: string;
  utm_campaign: string;
  utm_content: string;
  utm_term: string;
  engaged_ms: number;
  scroll_depth: number;
  props: string;
  country: string;
  region: string;
  device: string;
  browser: string;
  os: string;
  version: number;
}

export interface SessionRow {
  site_id: string;
  session_id: string;
  visitor_id: string;
  started_at: string;
  ended_at: string;
  duration_s: number;
  pageviews: number;
  events: number;
  engaged_ms: number;
  max_scroll_depth: number;
  entry_path: string;
  exit_path: string;
  /** The distinct paths of the session's page views, in the order of their first view. */
  page_paths: string[];
  /** Page views of each path in `page_paths`. */
  page_path_views: number[];
  is_bounce: number;
  is_engaged: number;
  has_conversion: number;
  source: string;
  medium: string;
  channel: string;
  campaign: string;
  referrer_host: string;
  utm_source: string;
  utm_medium: string;
  utm_campaign: string;
  utm_content: string;
  utm_term: string;
  country: string;
  region: string;
  device: string;
  browser: string;
  os: string;
  start_reason: StartReason;
  is_final: number;
  deleted: number;
  version: number;
  updated_at: string;
}

/** Counters the service exports as metrics. */
export interface Counters {
  events: number;
  /** Out of order: event time below the watermark input of its site (see `siteSkewMs`). */
  late: number;
  /** Beyond the allowed lateness: event time below the watermark. */
  veryLate: number;
  /** Very late events whose visitor state was already evicted: sessionized without the old sessions. */
  veryLateWithoutState: number;
  duplicates: number;
  /** Session ids tombstoned by a merge or a moved start. */
  corrections: number;
  /** Sessions that were final and received an event again. */
  reopened: number;
  /** Returning visitors whose sessions from before their return were dropped from memory. */
  pruned: number;
}

export interface RowSink {
  sessions: SessionRow[];
  events: EventRow[];
}

/**
 * The watermark input at an offset: the partition's largest event time before it, and the largest
 * event time of each site that is not dragged along by the partition (see `siteSkewMs`).
 */
export interface WatermarkInput {
  maxTs: number;
  sites: ReadonlyMap<string, number>;
}

/**
 * Where a replay must start, the watermark input at that point, and `written`: the offset before which
 * every message's rows were already taken (a replay writes nothing for those, see `PartitionState`).
 */
export interface CommitPoint extends WatermarkInput {
  offset: number;
  written: number;
}

/**
 * The event contract: what the snippet sends, what server-side senders send, and the versioned
 * payload the collector produces to Kafka. The sessionizer imports this module (never a copy), so
 * a change here is a change to the wire format: bump `EVENT_VERSION` when it is not additive.
 */
import { z } from 'zod';

export const EVENT_VERSION = 1 as const;
export const EVENTS_TOPIC = 'stint.events';
/**
 * Imports and backfills (`POST /api/import`): the same payload on a topic of their own, so an import's
 * event time drives its own watermarks (a 2015 log is not "very late" behind today's live traffic) and
 * a million-line import never queues in front of live events.
 */
export const IMPORTS_TOPIC = 'stint.imports';

/**
 * The imports topic that goes with an events topic when IMPORTS_TOPIC is not set: `stint.imports`
 * beside the default, `<events topic>.imports` beside any other (so a test or a second install with
 * its own events topic never shares imports with another).
 */
export function importsTopicFor(eventsTopic: string): string {
  return eventsTopic === EVENTS_TOPIC ? IMPORTS_TOPIC : `${eventsTopic}.imports`;
}

export const LIMITS = {
  bodyBytes: 64 * 1024,
  batchBodyBytes: 4 * 1024 * 1024,
  batchEvents: 1000,
  url: 2048,
  referrer: 2048,
  name: 120,
  site: 253,
  visitorId: 64,
  props: 30,
  propKey: 64,
  propValue: 512,
  userAgent: 1024,
  maxEngagedMs: 24 * 3600 * 1000,
} as const;

/** Names with a meaning of their own; anything else is a custom (conversion) event. */
export const PAGEVIEW = 'pageview';
export const ENGAGEMENT = 'engagement';

const siteId = z
  .string()
  .min(1)
  .max(LIMITS.site)
  .regex(/^[a-z0-9][a-z0-9.-]*$/, 'site must be a lower-case host name like example.com');
const eventName = z
  .string()
  .min(1)
  .max(LIMITS.name)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  .regex(/^[^\u0000-\u001f]+$/, 'name must not contain control characters');
const props = z
  .record(
    z.string().min(1).max(LIMITS.propKey),
    z.union([z.string().max(LIMITS.propValue), z.number().finite(), z.boolean()]),
  )
  .refine((p) => Object.keys(p).length <= LIMITS.props, `props may hold at most ${LIMITS.props} keys`);
const visitorId = z
  .string()
  .min(8)
  .max(LIMITS.visitorId)
  .regex(/^[A-Za-z0-9_-]+$/, 'visitor_id must be url-safe base64 or hex');

/** One event as the snippet sends it (POST /api/event, text/plain or JSON). */
export const BrowserEventSchema = z.strictObject({
  site: siteId,
  name: eventName,
  url: z.string().url().max(LIMITS.url),
  referrer: z.string().max(LIMITS.referrer).optional(),
  /** Absent in cookieless mode: the collector derives one from a daily salt. */
  visitor_id: visitorId.optional(),
  engaged_ms: z.number().int().min(0).max(LIMITS.maxEngagedMs).optional(),
  scroll_depth: z.number().int().min(0).max(100).optional(),
  props: props.optional(),
});
export type BrowserEvent = z.infer<typeof BrowserEventSchema>;

/** One event of POST /api/events (server-side senders) and POST /api/import (log imports), token-authenticated. */
export const ServerEventSchema = BrowserEventSchema.extend({
  /** The event's original time: ISO 8601 or epoch milliseconds. Bounded by the collector. */
  ts: z.union([z.string().datetime({ offset: true }), z.number().int().positive()]).optional(),
  ip: z.union([z.ipv4(), z.ipv6()]).optional(),
  user_agent: z.string().max(LIMITS.userAgent).optional(),
  /** Lets a sender retry a batch without counting it twice. */
  event_id: z
    .string()
    .min(8)
    .max(64)
    .regex(/^[A-Za-z0-9_-]+$/)
    .optional(),
});
export type ServerEvent = z.infer<typeof ServerEventSchema>;

export const ServerBatchSchema = z.strictObject({
  site: siteId,
  events: z.array(ServerEventSchema).min(1).max(LIMITS.batchEvents),
});

/**
 * The Kafka payload (JSON, value of a message on `stint.events`, keyed by `kafkaKey`).
 * Enriched and private: the IP address never reaches it.
 */
export const KafkaEventSchema = z.object({
  v: z.literal(EVENT_VERSION),
  event_id: z.string(),
  site_id: z.string(),
  visitor_id: z.string(),
  /** Cookieless only: this visitor's id under yesterday's salt, so a visit across midnight is one session. */
  prev_visitor_id: z.string().nullable(),
  /** Event time, epoch milliseconds (UTC). */
  ts: z.number().int(),
  /** Collector receive time, epoch milliseconds. Equals `ts` for live events. */
  received_at: z.number().int(),
  name: z.string(),
  url: z.string(),
  path: z.string(),
  hostname: z.string(),
  referrer: z.string(),
  referrer_host: z.string(),
  source: z.string(),
  medium: z.string(),
  /** search, social, email, paid, direct, referral */
  channel: z.string(),
  campaign: z.string(),
  utm_source: z.string(),
  utm_medium: z.string(),
  utm_campaign: z.string(),
  utm_content: z.string(),
  utm_term: z.string(),
  engaged_ms: z.number().int().min(0),
  scroll_depth: z.number().int().min(0).max(100),
  props: z.record(z.string(), z.string()),
  country: z.string(),
  region: z.string(),
  browser: z.string(),
  os: z.string(),
  /** desktop, mobile, tablet, other */
  device: z.string(),
});
export type KafkaEvent = z.infer<typeof KafkaEventSchema>;

/** Message key: keeps one visitor's events ordered in one partition. */
export function kafkaKey(e: Pick<KafkaEvent, 'site_id' | 'visitor_id'>): string {
  return `${e.site_id}|${e.visitor_id}`;
}

export function isConversion(name: string): boolean {
  return name !== PAGEVIEW && name !== ENGAGEMENT;
}

export function encodeKafkaEvent(e: KafkaEvent): Buffer {
  return Buffer.from(JSON.stringify(e));
}

export function decodeKafkaEvent(value: Buffer | string): KafkaEvent {
  return KafkaEventSchema.parse(JSON.parse(typeof value === 'string' ? value : value.toString('utf8')));
}

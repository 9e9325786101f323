/**
 * From a validated wire event to the Kafka message: enrichment, cookieless ids, and the point where
 * the IP address is used for the last time. Pure apart from the lookups it is given.
 */
import { randomUUID } from 'node:crypto';
import { encodeKafkaEvent, type KafkaEvent, kafkaKey } from './contract/event.ts';
import { isBot } from './enrich/bot.ts';
import type { GeoLookup } from './enrich/geo.ts';
import { classifySourceMemo } from './enrich/referrer.ts';
import type { SaltStore } from './enrich/salt-store.ts';
import type { UserAgentInfo } from './enrich/user-agent.ts';
import { historicalIds, liveIds, stablePartition } from './enrich/visitor-id.ts';
import type { SinkMessage } from './kafka-sink.ts';

export interface EnrichDeps {
  geo: GeoLookup;
  userAgent: (ua: string) => UserAgentInfo;
  salts: SaltStore;
  /** Partitions of the events topic (for the stable partition of cookieless visitors). */
  partitions: () => number;
  /** Drop bots and headless browsers (default on; browser tests may turn it off). */
  filterBots: boolean;
}

/** An event as accepted on any endpoint, before enrichment. Holds the IP: never log it. */
export interface IncomingEvent {
  site: string;
  name: string;
  url: string;
  referrer?: string | undefined;
  visitor_id?: string | undefined;
  engaged_ms?: number | undefined;
  scroll_depth?: number | undefined;
  props?: Record<string, string | number | boolean> | undefined;
  event_id?: string | undefined;
  /** `url`, already parsed by validation (parsing again would cost as much as the rest of enrichment). */
  parsedUrl?: URL | undefined;
  /** Event time (ms). Equals receivedAt for live events. */
  ts: number;
  receivedAt: number;
  /** The event carries its own past time (batch endpoint): ids use the derived salt of that day. */
  historical: boolean;
  ip: string;
  userAgent: string;
  /** Live browser requests without a user agent are scripts. */
  emptyUserAgentIsBot: boolean;
}

export type EnrichResult =
  | { kind: 'ok'; event: KafkaEvent; message: SinkMessage }
  | { kind: 'drop'; reason: 'bot' };

export function enrich(input: IncomingEvent, deps: EnrichDeps): EnrichResult {
  if (deps.filterBots && isBot(input.userAgent, { emptyIsBot: input.emptyUserAgentIsBot })) {
    return { kind: 'drop', reason: 'bot' };
  }
  const url = input.parsedUrl ?? new URL(input.url);
  const source = classifySourceMemo(url, input.referrer ?? '');
  const geo = input.ip === '' ? { country: '', region: '' } : deps.geo(input.ip);
  const ua = deps.userAgent(input.userAgent);

  let visitorId = input.visitor_id;
  let prevVisitorId: string | null = null;
  let partition: number | undefined;
  if (visitorId === undefined) {
    const ids = input.historical
      ? historicalIds(deps.salts.secret, input.ts, input.site, input.ip, input.userAgent)
      : liveIds(deps.salts, input.receivedAt, input.site, input.ip, input.userAgent);
    visitorId = ids.visitor_id;
    prevVisitorId = ids.prev_visitor_id;
    partition = stablePartition(deps.salts.secret, input.site, input.ip, input.userAgent, deps.partitions());
  }

  const props: Record<string, string> = {};
  if (input.props !== undefined) for (const k in input.props) props[k] = String(input.props[k]);

  const event: KafkaEvent = {
    v: 1,
    event_id: input.event_id ?? randomUUID(),
    site_id: input.site,
    visitor_id: visitorId,
    prev_visitor_id: prevVisitorId,
    ts: input.ts,
    received_at: input.receivedAt,
    name: input.name,
    url: input.url,
    path: url.pathname,
    hostname: url.hostname,
    // Field by field: a spread in the middle of a literal is a slow path in V8.
    referrer: source.referrer,
    referrer_host: source.referrer_host,
    source: source.source,
    medium: source.medium,
    channel: source.channel,
    campaign: source.campaign,
    utm_source: source.utm_source,
    utm_medium: source.utm_medium,
    utm_campaign: source.utm_campaign,
    utm_content: source.utm_content,
    utm_term: source.utm_term,
    engaged_ms: input.engaged_ms ?? 0,
    scroll_depth: input.scroll_depth ?? 0,
    props,
    country: geo.country,
    region: geo.region,
    browser: ua.browser,
    os: ua.os,
    device: ua.device,
  };
  const message: SinkMessage = { key: kafkaKey(event), value: encodeKafkaEvent(event) };
  if (partition !== undefined) message.partition = partition;
  return { kind: 'ok', event, message };
}

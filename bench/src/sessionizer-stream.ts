/**
 * A realistic Kafka event stream for the sessionizer benchmark: `makeHistory` visits turned into the
 * collector's Kafka payload (what enrichment would produce, approximated: host, path, referrer host,
 * UTM parameters, a device/browser mix), in arrival order.
 */
import { EVENT_VERSION, type KafkaEvent, type ServerEvent } from '@stint/collector/contract';
import { makeHistory } from './visits.ts';

const COUNTRIES = ['US', 'US', 'US', 'FR', 'DE', 'GB', 'IN', 'BR', 'JP', 'NL'];

function toKafka(e: ServerEvent, i: number): KafkaEvent {
  const url = new URL(e.url);
  const q = url.searchParams;
  const referrer = e.referrer ?? '';
  const referrerHost = referrer === '' ? '' : new URL(referrer).hostname;
  const ts = Number(e.ts);
  const ua = e.user_agent ?? '';
  const mobile = ua.includes('Mobile') || ua.includes('Android');
  const utmCampaign = q.get('utm_campaign') ?? '';
  const source =
    q.get('utm_source') ?? (referrerHost === '' ? '(direct)' : referrerHost.replace(/^www\./, ''));
  return {
    v: EVENT_VERSION,
    event_id: e.event_id ?? `ev${i}`,
    site_id: e.site,
    visitor_id: e.visitor_id ?? `anon${i}`,
    prev_visitor_id: null,
    ts,
    received_at: ts,
    name: e.name,
    url: e.url,
    path: url.pathname,
    hostname: url.hostname,
    referrer,
    referrer_host: referrerHost,
    source,
    medium: q.get('utm_medium') ?? (referrerHost === '' ? '(none)' : 'referral'),
    channel: referrerHost === '' && !utmCampaign ? 'direct' : 'referral',
    campaign: utmCampaign,
    utm_source: q.get('utm_source') ?? '',
    utm_medium: q.get('utm_medium') ?? '',
    utm_campaign: utmCampaign,
    utm_content: q.get('utm_content') ?? '',
    utm_term: q.get('utm_term') ?? '',
    engaged_ms: e.engaged_ms ?? 0,
    scroll_depth: e.scroll_depth ?? 0,
    props: Object.fromEntries(Object.entries(e.props ?? {}).map(([k, v]) => [k, String(v)])),
    country: COUNTRIES[i % COUNTRIES.length] as string,
    region: '',
    browser: ua.includes('Firefox') ? 'Firefox' : ua.includes('Chrome') ? 'Chrome' : 'Safari',
    os: ua.includes('Windows')
      ? 'Windows'
      : ua.includes('Mac')
        ? 'macOS'
        : ua.includes('Android')
          ? 'Android'
          : 'Linux',
    device: mobile ? 'mobile' : 'desktop',
  };
}

/**
 * About `events` Kafka events of a day of traffic (returning visitors, many sessions open at once),
 * ending at `now`, ordered by arrival (event time with some neighbours swapped).
 */
export function kafkaStream(events: number, now = Date.UTC(2025, 5, 2), seed = 42): KafkaEvent[] {
  // About 17 events per visitor in makeHistory's mix; visits over 3 days.
  const history = makeHistory({ seed, visitors: Math.ceil(events / 7), days: 3, now });
  return history.slice(0, events).map(toKafka);
}

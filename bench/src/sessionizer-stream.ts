/**
 * A realistic Kafka event stream for the sessionizer benchmark, generated directly in the collector's
 * Kafka payload shape (what enrichment produces) and fast enough for a few hundred thousand events:
 * returning visitors, visits of 1–14 page views each followed by an engagement event, a few
 * conversions, a referrer/UTM/device mix like `visits.ts`, in arrival order (event time with 5% of
 * neighbours swapped, as several collectors and retries cause).
 */
import {
  decodeKafkaEvent,
  EVENT_VERSION,
  encodeKafkaEvent,
  type KafkaEvent,
} from '@stint/collector/contract';
import { Random } from '@stint/infra/testing';
import { DEMO_SITES } from './visits.ts';

interface Acquisition {
  referrer: string;
  referrer_host: string;
  source: string;
  medium: string;
  channel: string;
  utm_source: string;
  utm_medium: string;
  utm_campaign: string;
  utm_term: string;
  query: string;
}

function acq(o: Partial<Acquisition>): Acquisition {
  return {
    referrer: '',
    referrer_host: '',
    source: '(direct)',
    medium: '(none)',
    channel: 'direct',
    utm_source: '',
    utm_medium: '',
    utm_campaign: '',
    utm_term: '',
    query: '',
    ...o,
  };
}

const search = (host: string, source: string) =>
  acq({ referrer: `https://${host}/`, referrer_host: host, source, medium: 'organic', channel: 'search' });
const social = (url: string, host: string, source: string) =>
  acq({ referrer: url, referrer_host: host, source, medium: 'social', channel: 'social' });

const ACQUISITION: readonly (readonly [Acquisition, number])[] = [
  [search('www.google.com', 'google'), 32],
  [acq({}), 24],
  [search('duckduckgo.com', 'duckduckgo'), 4],
  [search('www.bing.com', 'bing'), 3],
  [social('https://t.co/abc123', 't.co', 'twitter'), 5],
  [social('https://www.facebook.com/', 'www.facebook.com', 'facebook'), 4],
  [social('https://www.reddit.com/r/webdev/', 'www.reddit.com', 'reddit'), 4],
  [social('https://news.ycombinator.com/', 'news.ycombinator.com', 'hacker news'), 3],
  [
    acq({
      referrer: 'https://github.com/stint/stint',
      referrer_host: 'github.com',
      source: 'github.com',
      medium: 'referral',
      channel: 'referral',
    }),
    3,
  ],
  [
    acq({
      source: 'newsletter',
      medium: 'email',
      channel: 'email',
      utm_source: 'newsletter',
      utm_medium: 'email',
      utm_campaign: 'november',
      query: '?utm_source=newsletter&utm_medium=email&utm_campaign=november',
    }),
    7,
  ],
  [
    acq({
      referrer: 'https://www.google.com/',
      referrer_host: 'www.google.com',
      source: 'google',
      medium: 'cpc',
      channel: 'paid',
      utm_source: 'google',
      utm_medium: 'cpc',
      utm_campaign: 'brand',
      utm_term: 'session analytics',
      query: '?utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=session+analytics',
    }),
    6,
  ],
];

const PAGES = [
  '/',
  '/features',
  '/pricing',
  '/docs',
  '/docs/quick-start',
  '/docs/sessions',
  '/blog',
  '/signup',
];
const DEVICES: readonly (readonly [[string, string, string], number])[] = [
  [['desktop', 'Chrome', 'Windows'], 30],
  [['mobile', 'Mobile Safari', 'iOS'], 20],
  [['mobile', 'Chrome', 'Android'], 16],
  [['desktop', 'Safari', 'macOS'], 12],
  [['desktop', 'Firefox', 'Linux'], 6],
  [['desktop', 'Edge', 'Windows'], 8],
  [['tablet', 'Mobile Safari', 'iOS'], 5],
];
const COUNTRIES: readonly (readonly [string, number])[] = [
  ['US', 40],
  ['FR', 8],
  ['DE', 10],
  ['GB', 10],
  ['IN', 8],
  ['BR', 5],
  ['JP', 5],
  ['NL', 4],
];
const CONVERSIONS = ['signup', 'add_to_cart', 'download', 'newsletter'];

/**
 * `events` Kafka events of `days` of traffic ending at `now`, in arrival order. A few visitors'
 * sessions are open at any moment in proportion to the traffic, as on a live site.
 */
export function kafkaStream(events: number, now = Date.UTC(2025, 5, 2), seed = 42, days = 1): KafkaEvent[] {
  const rng = new Random(seed);
  const span = days * 86_400_000;
  const out: KafkaEvent[] = [];
  let n = 0;
  const id = () =>
    `${(rng.next() * 2 ** 32).toString(16).padStart(8, '0')}${(rng.next() * 2 ** 32).toString(16).padStart(8, '0')}${(n++).toString(36)}`;
  while (out.length < events) {
    const site = rng.weighted([
      [DEMO_SITES[0], 5],
      [DEMO_SITES[1], 3],
      [DEMO_SITES[2], 2],
    ]);
    const visitor = id();
    const [device, browser, os] = rng.weighted(DEVICES);
    const country = rng.weighted(COUNTRIES);
    const acquisition = rng.weighted(ACQUISITION);
    const visits = rng.weighted([
      [1, 55],
      [2, 18],
      [3, 9],
      [4, 6],
      [6, 6],
      [9, 4],
    ] as const);
    let t = now - rng.next() * span;
    for (let k = 0; k < visits && t < now; k++) {
      const a = k > 0 && rng.chance(0.6) ? (ACQUISITION[1]?.[0] as Acquisition) : acquisition;
      const pageviews = rng.weighted([
        [1, 40],
        [2, 20],
        [3, 14],
        [4, 10],
        [6, 9],
        [9, 5],
        [14, 2],
      ] as const);
      let path = rng.chance(0.5) ? '/' : rng.pick(PAGES);
      let ts = Math.round(t);
      for (let i = 0; i < pageviews; i++) {
        const first = i === 0;
        const url = `https://${site}${path}${first ? a.query : ''}`;
        const base = {
          v: EVENT_VERSION,
          site_id: site,
          visitor_id: visitor,
          prev_visitor_id: null,
          url,
          path,
          hostname: site,
          referrer: first ? a.referrer : '',
          referrer_host: first ? a.referrer_host : '',
          source: first ? a.source : '(direct)',
          medium: first ? a.medium : '(none)',
          channel: first ? a.channel : 'direct',
          campaign: first ? a.utm_campaign : '',
          utm_source: first ? a.utm_source : '',
          utm_medium: first ? a.utm_medium : '',
          utm_campaign: first ? a.utm_campaign : '',
          utm_content: '',
          utm_term: first ? a.utm_term : '',
          country,
          region: '',
          browser,
          os,
          device,
        } as const;
        if (ts > now) break; // the stream ends now, as a live one does
        out.push({
          ...base,
          event_id: id(),
          ts,
          received_at: ts,
          name: 'pageview',
          engaged_ms: 0,
          scroll_depth: 0,
          props: {},
        });
        const dwell =
          1000 *
          rng.weighted([
            [rng.int(1, 8), 30],
            [rng.int(8, 40), 35],
            [rng.int(40, 180), 25],
            [rng.int(180, 900), 10],
          ]);
        ts += dwell;
        if (ts > now) break;
        out.push({
          ...base,
          event_id: id(),
          ts,
          received_at: ts,
          name: 'engagement',
          engaged_ms: dwell,
          scroll_depth: rng.int(10, 100),
          props: {},
        });
        if (rng.chance(0.06)) {
          out.push({
            ...base,
            event_id: id(),
            ts,
            received_at: ts,
            name: rng.pick(CONVERSIONS),
            engaged_ms: 0,
            scroll_depth: 0,
            props: { plan: rng.pick(['free', 'pro', 'team']) },
          });
        }
        ts += rng.int(500, 4000);
        path = rng.pick(PAGES);
      }
      t += rng.weighted([
        [rng.int(1, 6) * 3600_000, 20],
        [rng.int(1, 3) * 86_400_000, 50],
        [rng.int(4, 14) * 86_400_000, 30],
      ]);
    }
  }
  out.length = events;
  out.sort((x, y) => x.ts - y.ts);
  for (let i = 1; i < out.length; i++) {
    if (rng.chance(0.05)) {
      const x = out[i - 1] as KafkaEvent;
      out[i - 1] = out[i] as KafkaEvent;
      out[i] = x;
    }
  }
  // Through the wire format, as the sessionizer receives them (same object shapes as in production).
  return out.map((e) => decodeKafkaEvent(encodeKafkaEvent(e)));
}

/**
 * Realistic synthetic visits: returning visitors over days, varied session lengths, SPA navigations,
 * engagement events, believable referrer/UTM/device/country mixes, a little bot traffic. Pure: it
 * returns events in the collector's batch format (ServerEvent) with their original time, IP and UA.
 */
import type { ServerEvent } from '@stint/collector/contract';
import { Random } from '@stint/infra/testing';

export const DEMO_SITES = ['demo.stint.dev', 'shop.example', 'blog.example'] as const;

const USER_AGENTS: readonly (readonly [string, number])[] = [
  [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
    30,
  ],
  [
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
    20,
  ],
  [
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
    16,
  ],
  [
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
    12,
  ],
  ['Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', 6],
  [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
    8,
  ],
  [
    'Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
    5,
  ],
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0', 3],
];

const BOT_AGENTS = [
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
];

/** First octets of public IPv4 blocks, so the GeoIP lookup yields a believable country mix. */
const IP_PREFIXES: readonly (readonly [string, number])[] = [
  ['24.', 25], // United States
  ['73.', 15], // United States
  ['81.', 10], // Europe (FR/DE/GB/…)
  ['91.', 10], // Europe
  ['86.', 6], // United Kingdom
  ['1.', 6], // Asia-Pacific
  ['200.', 5], // South America
  ['41.', 3], // Africa
  ['49.', 5], // India
  ['62.', 8], // Europe
];

interface Acquisition {
  referrer?: string;
  query?: string;
}

const ACQUISITION: readonly (readonly [Acquisition, number])[] = [
  [{ referrer: 'https://www.google.com/' }, 32],
  [{}, 24],
  [{ referrer: 'https://duckduckgo.com/' }, 4],
  [{ referrer: 'https://www.bing.com/' }, 3],
  [{ referrer: 'https://t.co/abc123' }, 5],
  [{ referrer: 'https://www.facebook.com/' }, 4],
  [{ referrer: 'https://www.reddit.com/r/webdev/' }, 4],
  [{ referrer: 'https://news.ycombinator.com/' }, 3],
  [{ referrer: 'https://github.com/stint/stint' }, 3],
  [{ query: 'utm_source=newsletter&utm_medium=email&utm_campaign=november' }, 7],
  [
    {
      referrer: 'https://www.google.com/',
      query: 'utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=session+analytics',
    },
    6,
  ],
  [
    {
      referrer: 'https://www.linkedin.com/',
      query: 'utm_source=linkedin&utm_medium=social&utm_campaign=launch',
    },
    5,
  ],
];

const PAGES: Record<string, readonly string[]> = {
  'demo.stint.dev': [
    '/',
    '/features',
    '/pricing',
    '/docs',
    '/docs/quick-start',
    '/docs/sessions',
    '/blog',
    '/signup',
  ],
  'shop.example': ['/', '/products', '/products/shoes', '/products/hats', '/cart', '/checkout', '/about'],
  'blog.example': [
    '/',
    '/posts/sessions-done-right',
    '/posts/event-time',
    '/posts/kafka-notes',
    '/about',
    '/archive',
  ],
};

const CONVERSIONS = ['signup', 'add_to_cart', 'download', 'newsletter'];

export interface Visitor {
  site: string;
  visitorId: string;
  ua: string;
  ip: string;
  acquisition: Acquisition;
  bot: boolean;
  visits: number;
}

export function makeVisitor(rng: Random, site?: string): Visitor {
  const bot = rng.chance(0.03);
  const prefix = rng.weighted(IP_PREFIXES);
  return {
    site:
      site ??
      rng.weighted([
        [DEMO_SITES[0], 5],
        [DEMO_SITES[1], 3],
        [DEMO_SITES[2], 2],
      ]),
    visitorId: rng.id(22),
    ua: bot ? rng.pick(BOT_AGENTS) : rng.weighted(USER_AGENTS),
    ip: `${prefix}${rng.int(1, 254)}.${rng.int(1, 254)}.${rng.int(1, 254)}`,
    acquisition: rng.weighted(ACQUISITION),
    bot,
    // Most visitors come once; some come back often (so frequency means something).
    visits: rng.weighted([
      [1, 55],
      [2, 18],
      [3, 9],
      [4, 6],
      [6, 6],
      [9, 4],
      [14, 2],
    ]),
  };
}

/** One visit (a session's worth of events) starting at `start` (epoch ms). */
export function makeVisit(rng: Random, v: Visitor, start: number, returning: boolean): ServerEvent[] {
  const pages = PAGES[v.site] ?? ['/'];
  const origin = `https://${v.site}`;
  // Returning visitors mostly come direct; new ones by their acquisition channel.
  const acq = returning && rng.chance(0.6) ? {} : v.acquisition;
  const landing = rng.chance(0.5) ? '/' : rng.pick(pages);
  const pageviews = rng.weighted([
    [1, 40],
    [2, 20],
    [3, 14],
    [4, 10],
    [6, 9],
    [9, 5],
    [14, 2],
  ]);
  const events: ServerEvent[] = [];
  const base = { site: v.site, visitor_id: v.visitorId, ip: v.ip, user_agent: v.ua };
  let t = start;
  let path = landing;
  for (let i = 0; i < pageviews; i++) {
    const url = `${origin}${path}${i === 0 && acq.query ? `?${acq.query}` : ''}`;
    events.push({
      ...base,
      name: 'pageview',
      url,
      ...(i === 0 && acq.referrer ? { referrer: acq.referrer } : {}),
      ts: t,
      event_id: rng.id(20),
    });
    // Visible time on the page: a long tail (a quick glance to a long read).
    const dwell = Math.round(
      rng.weighted([
        [rng.int(1, 8), 30],
        [rng.int(8, 40), 35],
        [rng.int(40, 180), 25],
        [rng.int(180, 900), 10],
      ]) * 1000,
    );
    t += dwell;
    events.push({
      ...base,
      name: 'engagement',
      url,
      ts: t,
      engaged_ms: dwell,
      scroll_depth: rng.int(10, 100),
      event_id: rng.id(20),
    });
    if (rng.chance(0.06)) {
      events.push({
        ...base,
        name: rng.pick(CONVERSIONS),
        url,
        ts: t,
        props: { plan: rng.pick(['free', 'pro', 'team']) },
        event_id: rng.id(20),
      });
    }
    t += rng.int(500, 4000);
    path = rng.pick(pages);
  }
  return events;
}

/**
 * A history of visits over `days` days ending at `now`, for `visitors` visitors, sorted by time with a
 * little out-of-order arrival (neighbouring events swapped), as several collectors and retries cause.
 */
export function makeHistory(options: {
  seed: number;
  visitors: number;
  days: number;
  now: number;
}): ServerEvent[] {
  const rng = new Random(options.seed);
  const events: ServerEvent[] = [];
  const span = options.days * 86_400_000;
  for (let i = 0; i < options.visitors; i++) {
    const v = makeVisitor(rng);
    let t = options.now - rng.next() * span;
    for (let k = 0; k < v.visits && t < options.now - 3600_000; k++) {
      events.push(...makeVisit(rng, v, Math.round(t), k > 0));
      // Next visit: hours to days later.
      t += rng.weighted([
        [rng.int(1, 6) * 3600_000, 20],
        [rng.int(1, 3) * 86_400_000, 50],
        [rng.int(4, 14) * 86_400_000, 30],
      ]);
    }
  }
  events.sort((a, b) => Number(a.ts) - Number(b.ts));
  for (let i = 1; i < events.length; i++) {
    if (rng.chance(0.05)) {
      const a = events[i - 1];
      const b = events[i];
      if (a && b) {
        events[i - 1] = b;
        events[i] = a;
      }
    }
  }
  return events;
}

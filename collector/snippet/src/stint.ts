/**
 * The Stint tracker, loaded with one tag:
 *   <script defer data-site="example.com" src="https://collector.example/stint.js"></script>
 * Options (data-*): api, cookieless, hash-mode, outbound, downloads, respect-dnt, allow-localhost.
 *
 * Wire format: one JSON `BrowserEvent` (collector/src/contract/event.ts) per request to
 * `<data-api or the script's origin>/api/event`, sent as a string so the browser labels it
 * text/plain and no CORS preflight is needed; sendBeacon first because it survives page unload.
 *
 * Budget: 1.5 KB gzipped (enforced by snippet/build.ts), which is why the code is terse. Every entry
 * point is wrapped in `safe` so the tracker can never throw into the host page.
 */

// A module for the type checker (its types stay local); esbuild emits a plain script.
export {};

type Props = Record<string, string | number | boolean>;
type StintFn = ((name: string, options?: { props?: Props }) => void) & { q?: ArrayLike<unknown>[] };
type StintWindow = Window & { stint?: StintFn; __stint?: 1 };

const MAX_URL = 2048;
const MAX_PROP_VALUE = 512;
const MAX_ENGAGED_MS = 864e5;
const STORAGE_KEY = 'stint_id';
const DOWNLOAD =
  /\.(pdf|xlsx?|docx?|pptx?|csv|txt|zip|gz|rar|7z|dmg|pkg|exe|msi|deb|iso|apk|mp[34]|mov|epub)$/i;

const safe =
  <A extends unknown[]>(f: (...a: A) => void) =>
  (...a: A): void => {
    try {
      f(...a);
    } catch {
      // analytics must never break the page
    }
  };

safe(() => {
  const w = window as StintWindow;
  const d = document;
  const loc = location;
  const nav = navigator as Navigator & { globalPrivacyControl?: boolean };
  // Two tags on one page (tag manager + hard-coded) would double-count everything.
  if (w.__stint) return;
  w.__stint = 1;

  const script = (d.currentScript || d.querySelector('script[data-site]')) as HTMLScriptElement;
  const attr = (name: string): string | null => script.getAttribute(`data-${name}`);
  const has = (name: string): boolean => attr(name) !== null;
  const site = attr('site');
  const queue = w.stint?.q || [];
  if (
    !site ||
    (/^(localhost|127(\.\d+){3}|\[::1\])$/.test(loc.hostname) && !has('allow-localhost')) ||
    (has('respect-dnt') && (nav.doNotTrack === '1' || nav.globalPrivacyControl))
  ) {
    // Page code that calls stint() keeps working; nothing is recorded.
    w.stint = () => {};
    return;
  }
  const endpoint = `${(attr('api') || new URL(script.src).origin).replace(/\/$/, '')}/api/event`;
  const hashMode = has('hash-mode');
  const outbound = has('outbound');
  const downloads = has('downloads');

  // Random id in localStorage. When storage is blocked (sandboxed frames, strict privacy settings)
  // the id is left out and the collector derives a cookieless one: a fresh random id per page
  // would make every page a new visitor.
  let visitor: string | undefined;
  if (!has('cookieless')) {
    try {
      visitor = localStorage.getItem(STORAGE_KEY) || '';
      if (!/^[\da-f]{32}$/.test(visitor)) {
        visitor = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) =>
          (b + 256).toString(16).slice(1),
        ).join('');
        localStorage.setItem(STORAGE_KEY, visitor);
      }
    } catch {
      visitor = undefined;
    }
  }

  // The page being measured: its URL, visible ms not yet reported, when it last became visible
  // (-1 while hidden), and the deepest scroll seen.
  let current = '';
  let engaged = 0;
  let visibleSince = -1;
  let depth = 0;

  const send = (name: string, extra?: object): void => {
    const body = JSON.stringify({
      site,
      name,
      url: current,
      referrer: d.referrer.slice(0, MAX_URL) || undefined,
      visitor_id: visitor,
      ...extra,
    });
    // A rejected fetch must not reach the page's unhandledrejection handlers (error trackers).
    if (!nav.sendBeacon(endpoint, body))
      fetch(endpoint, { method: 'POST', body, keepalive: true }).catch(() => {});
  };
  const resume = (): void => {
    if (visibleSince < 0 && !d.hidden) visibleSince = performance.now();
  };
  const measureScroll = (): void => {
    const el = d.documentElement;
    depth = Math.max(depth, Math.min(100, Math.round(((w.scrollY + w.innerHeight) / el.scrollHeight) * 100)));
  };
  // Reports the visible time since the last report; the collector sums them per page.
  const flush = (): void => {
    if (visibleSince >= 0) engaged += performance.now() - visibleSince;
    visibleSince = -1;
    measureScroll();
    const ms = Math.min(Math.round(engaged), MAX_ENGAGED_MS);
    engaged = 0;
    if (current && ms) send('engagement', { engaged_ms: ms, scroll_depth: depth });
  };
  const pageview = (): void => {
    const url = (hashMode ? loc.href : loc.href.split('#')[0] || '').slice(0, MAX_URL);
    if (url === current) return;
    flush();
    current = url;
    depth = 0;
    resume();
    send('pageview');
  };
  const on = <E extends Event>(target: EventTarget, type: string, f: (e: E) => void): void =>
    target.addEventListener(type, safe(f) as EventListener, true);

  for (const method of ['pushState', 'replaceState'] as const) {
    const original = history[method];
    history[method] = function (this: History, ...args: Parameters<History['pushState']>) {
      const result = original.apply(this, args);
      safe(pageview)();
      return result;
    };
  }
  on(w, 'popstate', pageview);
  if (hashMode) on(w, 'hashchange', pageview);
  on(w, 'scroll', measureScroll);
  on(d, 'visibilitychange', () => (d.hidden ? flush() : resume()));
  on(w, 'pagehide', flush);
  // Back/forward cache restore shows the page again without a load: count it again.
  on(w, 'pageshow', (e: PageTransitionEvent) => {
    if (e.persisted) {
      current = '';
      pageview();
    }
  });
  // Capture phase: a page that stops propagation of its clicks still has them counted.
  if (outbound || downloads) {
    const onClick = (e: MouseEvent): void => {
      const link = (e.target as Element).closest('a[href]') as HTMLAnchorElement | null;
      if (!link || !/^https?:$/.test(link.protocol) || e.button > 1) return;
      if (downloads && DOWNLOAD.test(link.pathname)) {
        send('download', { props: { url: (link.origin + link.pathname).slice(0, MAX_PROP_VALUE) } });
      } else if (outbound && link.host !== loc.host) {
        send('outbound', { props: { url: link.href.slice(0, MAX_PROP_VALUE) } });
      }
    };
    on(d, 'click', onClick);
    on(d, 'auxclick', onClick);
  }

  const stint: StintFn = safe((name: unknown, options?: { props?: Props }) => {
    if (typeof name !== 'string' || !name) return;
    // Keep only what the contract accepts, so one odd value does not cost the whole event.
    let props: Props | undefined;
    for (const [key, value] of Object.entries(options?.props || {})) {
      const t = typeof value;
      if (t === 'string' || t === 'boolean' || (t === 'number' && Number.isFinite(value))) {
        props = props || {};
        props[key] = t === 'string' ? (value as string).slice(0, MAX_PROP_VALUE) : value;
      }
    }
    send(name, { props });
  });
  w.stint = stint;

  pageview();
  // Calls made before the script loaded, after the page view so they land on this page.
  for (const args of Array.from(queue)) stint.apply(null, Array.from(args) as [string]);
})();

/**
 * The tracker (collector/snippet/src/stint.ts, built exactly as the collector serves it) in real
 * Chromium against a fixture marketing site; assertions are on the requests the collector receives.
 */
import { execFileSync } from 'node:child_process';
import { waitFor } from '@stint/infra/testing';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { buildSnippet } from '../snippet/build.ts';
import type { BrowserEvent } from '../src/contract/event.ts';
import { type Harness, startHarness } from './snippet-harness.ts';

function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  try {
    return (
      execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim() || '/usr/bin/chromium'
    );
  } catch {
    return '/usr/bin/chromium';
  }
}

let harness: Harness;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  harness = await startHarness(await buildSnippet());
  browser = await chromium.launch({
    executablePath: chromiumPath(),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}, 30_000);

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()));
  // Every body the snippet posted must match the contract the collector validates against.
  expect(harness.received.filter((r) => r.error !== undefined)).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await harness?.close();
  // Checked once more over everything, including beacons that arrived after their test ended.
  expect(harness.received.filter((r) => r.error !== undefined)).toEqual([]);
});

/** A fresh browser profile (own localStorage) with a page that fails the test on any page error. */
async function openPage(init?: () => void): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext();
  contexts.push(context);
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  return { page, errors };
}

function named(events: BrowserEvent[], name: string): BrowserEvent[] {
  return events.filter((e) => e.name === name);
}

/** Waits until `site` has received an event matching `match`, then returns all events of the site. */
async function waitForEvent(site: string, match: (e: BrowserEvent) => boolean): Promise<BrowserEvent[]> {
  return waitFor(() => harness.events(site).some(match) && harness.events(site), {
    timeoutMs: 8000,
    message: `an event for ${site} matching ${match.toString()}`,
  });
}

const path = (url: string): string => {
  const u = new URL(url);
  return `${u.pathname.replace(/^\/s\/[^/]+\//, '')}${u.search}${u.hash}`;
};

describe('the stint.js snippet in Chromium', { timeout: 60_000 }, () => {
  test('sends a page view on load as a text/plain beacon to the script origin, with url, referrer and a visitor id', async () => {
    const site = harness.site();
    const { page, errors } = await openPage();
    await page.goto(harness.page(site, 'index.html'));
    await page.click('#pricing');
    const events = await waitForEvent(site, (e) => e.name === 'pageview' && e.url.endsWith('/pricing.html'));

    const [home, pricing] = named(events, 'pageview');
    expect(home).toMatchObject({ site, url: harness.page(site, 'index.html') });
    expect(home?.referrer).toBeUndefined();
    expect(home?.visitor_id).toMatch(/^[0-9a-f]{32}$/);
    expect(pricing).toMatchObject({
      referrer: harness.page(site, 'index.html'),
      visitor_id: home?.visitor_id,
    });

    const requests = harness.received.filter((r) => r.event?.site === site);
    expect(requests.every((r) => r.method === 'POST' && r.path === '/api/event')).toBe(true);
    expect(requests.every((r) => r.contentType.startsWith('text/plain'))).toBe(true);
    expect(harness.received.filter((r) => r.method === 'OPTIONS')).toEqual([]);
    expect(errors).toEqual([]);
  });

  test('keeps one visitor id across page loads of a browser profile and another profile gets another id', async () => {
    const site = harness.site();
    const first = await openPage();
    await first.page.goto(harness.page(site, 'index.html'));
    await first.page.goto(harness.page(site, 'about.html'));
    await first.page.reload();
    const second = await openPage();
    await second.page.goto(harness.page(site, 'index.html'));

    const events = await waitFor(() => {
      const views = named(harness.events(site), 'pageview');
      return views.length >= 4 && views;
    });
    const ids = new Set(events.map((e) => e.visitor_id));
    expect(ids.size).toBe(2);
    const firstId = await first.page.evaluate(() => localStorage.getItem('stint_id'));
    expect(events.filter((e) => e.visitor_id === firstId)).toHaveLength(3);
  });

  test('sends nothing on 127.0.0.1 unless data-allow-localhost is set, and stint() stays callable', async () => {
    const silent = harness.site('');
    const tracked = harness.site();
    const { page, errors } = await openPage();
    await page.goto(harness.page(silent, 'index.html'));
    await page.click('#cta');
    expect(await page.evaluate(() => typeof window.stint)).toBe('function');
    // Loaded after the silent page, so once it arrived the silent page had its chance to send.
    await page.goto(harness.page(tracked, 'index.html'));
    await waitForEvent(tracked, (e) => e.name === 'pageview');
    expect(harness.events(silent)).toEqual([]);
    expect(errors).toEqual([]);
  });

  test('counts pushState and popstate navigations once each, ignoring same-URL pushState, replaceState and anchor jumps', async () => {
    const site = harness.site();
    const { page, errors } = await openPage();
    await page.goto(harness.page(site, 'app/'));
    await waitForEvent(site, (e) => e.name === 'pageview');
    await page.click('#same');
    await page.click('#replace');
    await page.click('#anchor');
    await page.click('#nav-pricing');
    await page.goBack(); // popstate to app/#details, which is app/ outside hash mode
    await page.click('#nav-docs');
    const events = await waitForEvent(site, (e) => e.name === 'pageview' && e.url.endsWith('/docs'));

    expect(named(events, 'pageview').map((e) => path(e.url))).toEqual([
      'app/',
      'app/pricing',
      'app/',
      'app/docs',
    ]);
    // Each SPA page view first reports the engagement of the page being left.
    const engagement = named(
      await waitForEvent(site, (e) => e.name === 'engagement' && e.url.endsWith('/pricing')),
      'engagement',
    );
    expect(engagement.map((e) => path(e.url)).sort()).toEqual(['app/', 'app/', 'app/pricing']);
    expect(errors).toEqual([]);
  });

  test('in hash mode every hash route is a page', async () => {
    const site = harness.site('data-allow-localhost data-hash-mode');
    const { page } = await openPage();
    await page.goto(harness.page(site, 'app/'));
    await page.click('#hash-pricing');
    await page.click('#hash-pricing'); // same URL again: no second page view
    await page.click('#anchor');
    const events = await waitForEvent(site, (e) => e.name === 'pageview' && e.url.endsWith('#details'));
    expect(named(events, 'pageview').map((e) => path(e.url))).toEqual([
      'app/',
      'app/#/pricing',
      'app/#details',
    ]);
  });

  test('reports the visible time and the max scroll depth of a page when the visitor leaves it', async () => {
    const site = harness.site();
    const { page } = await openPage();
    await page.goto(harness.page(site, 'about.html'));
    // Down to the bottom and back up: the depth reported is the deepest point, not the last one.
    await page.mouse.move(200, 200);
    await page.mouse.wheel(0, 5000);
    await page.waitForFunction(
      () => window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 1,
    );
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await page.mouse.wheel(0, -5000);
    await page.waitForFunction(() => window.scrollY === 0);
    await page.waitForTimeout(1500); // the visit being measured
    await page.click('#home');
    const events = await waitForEvent(site, (e) => e.name === 'engagement');
    const [engagement] = named(events, 'engagement');
    expect(engagement?.url).toBe(harness.page(site, 'about.html'));
    expect(engagement?.engaged_ms).toBeGreaterThanOrEqual(1000);
    expect(engagement?.engaged_ms).toBeLessThanOrEqual(5000);
    expect(engagement?.scroll_depth).toBe(100);
  });

  test('does not count time while the page is hidden', async () => {
    // Headless Chromium keeps every page visible (no tab switching or minimising takes effect), so
    // the Page Visibility API is emulated: document.hidden/visibilityState + the visibilitychange event.
    const site = harness.site();
    const { page } = await openPage(() => {
      let hidden = false;
      Object.defineProperty(Document.prototype, 'hidden', { get: () => hidden, configurable: true });
      Object.defineProperty(Document.prototype, 'visibilityState', {
        get: () => (hidden ? 'hidden' : 'visible'),
        configurable: true,
      });
      (window as unknown as { setHidden: (h: boolean) => void }).setHidden = (h) => {
        hidden = h;
        document.dispatchEvent(new Event('visibilitychange'));
      };
    });
    const setHidden = (h: boolean) =>
      page.evaluate(
        (value) => (window as unknown as { setHidden: (h: boolean) => void }).setHidden(value),
        h,
      );

    await page.goto(harness.page(site, 'pricing.html'));
    const start = Date.now();
    await page.waitForTimeout(500);
    await setHidden(true);
    // Going hidden is the last moment a mobile browser guarantees: the engagement goes out now.
    await waitForEvent(site, (e) => e.name === 'engagement');
    await page.waitForTimeout(1500);
    await setHidden(false);
    await page.waitForTimeout(500);
    await page.click('#home');
    const events = await waitFor(() => {
      const list = named(harness.events(site), 'engagement');
      return list.length >= 2 && list;
    });
    const wall = Date.now() - start;
    const visible = events.reduce((sum, e) => sum + (e.engaged_ms ?? 0), 0);
    expect(events).toHaveLength(2);
    expect(wall).toBeGreaterThanOrEqual(2400);
    expect(visible).toBeGreaterThanOrEqual(900);
    expect(visible).toBeLessThan(wall - 1200);
  });

  test('sends custom events with their props, including calls queued before the script loaded', async () => {
    const site = harness.site();
    const { page, errors } = await openPage();
    await page.goto(harness.page(site, 'queue.html'));
    const queued = await waitForEvent(site, (e) => e.name === 'signup');
    expect(queued.map((e) => e.name)).toEqual(['pageview', 'signup']);
    expect(named(queued, 'signup')[0]).toMatchObject({
      url: harness.page(site, 'queue.html'),
      props: { plan: 'pro' },
    });

    await page.goto(harness.page(site, 'index.html'));
    await page.click('#cta');
    const events = await waitForEvent(site, (e) => e.name === 'cta_click');
    // Values the contract rejects (objects, NaN) are dropped instead of losing the whole event.
    expect(named(events, 'cta_click')[0]?.props).toEqual({ position: 'hero', count: 2, beta: true });
    expect(errors).toEqual([]);
  });

  test('sends outbound link and file download clicks when enabled, even as the page navigates away', async () => {
    const site = harness.site('data-allow-localhost data-outbound data-downloads');
    const { page } = await openPage();
    await page.goto(harness.page(site, 'index.html'));
    await page.click('#download');
    await page.waitForURL(/brochure\.pdf$/);
    await page.goBack();
    await page.click('#about'); // internal link: not outbound
    await page.goBack();
    await page.click('#outbound');
    await page.waitForURL(/\/elsewhere$/);
    const events = await waitForEvent(site, (e) => e.name === 'outbound');
    expect(named(events, 'download').map((e) => e.props)).toEqual([
      { url: harness.page(site, 'files/brochure.pdf') },
    ]);
    expect(named(events, 'outbound').map((e) => e.props)).toEqual([
      { url: `${harness.collectorOrigin.replace('127.0.0.1', 'localhost')}/elsewhere` },
    ]);
  });

  test('sends no outbound or download events when they are not enabled', async () => {
    const site = harness.site();
    const { page } = await openPage();
    await page.goto(harness.page(site, 'index.html'));
    // Stay on the page so the sentinel event below is sent after both clicks were handled.
    await page.evaluate(() => addEventListener('click', (e) => e.preventDefault()));
    await page.click('#outbound');
    await page.click('#download');
    await page.evaluate(() => window.stint?.('sentinel'));
    const events = await waitForEvent(site, (e) => e.name === 'sentinel');
    expect(events.map((e) => e.name)).toEqual(['pageview', 'sentinel']);
  });

  test('sends no visitor id and stores nothing in cookieless mode, to the data-api endpoint', async () => {
    const site = harness.site(
      `data-allow-localhost data-cookieless data-api="${harness.collectorOrigin.replace('127.0.0.1', 'localhost')}/custom/"`,
    );
    const { page } = await openPage();
    await page.goto(harness.page(site, 'index.html'));
    await page.click('#cta');
    await page.click('#about');
    const events = await waitForEvent(site, (e) => e.name === 'pageview' && e.url.endsWith('about.html'));
    expect(events.map((e) => e.name)).toEqual(['pageview', 'cta_click', 'engagement', 'pageview']);
    expect(events.filter((e) => 'visitor_id' in e)).toEqual([]);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    const paths = new Set(harness.received.filter((r) => r.event?.site === site).map((r) => r.path));
    expect([...paths]).toEqual(['/custom/api/event']);
  });

  test("leaves the page's own scripts working: history API results, its click handlers, storage, no errors", async () => {
    const site = harness.site('data-allow-localhost data-outbound');
    const { page, errors } = await openPage();
    await page.goto(harness.page(site, 'own-scripts.html'));
    await page.waitForSelector('body[data-done]');
    const checks = (await page.textContent('#result'))?.split('\n') ?? [];
    expect(checks.length).toBeGreaterThan(5);
    expect(checks.filter((c) => !c.startsWith('ok '))).toEqual([]);
    expect(await page.evaluate(() => (window as unknown as { pageErrors: string[] }).pageErrors)).toEqual([]);
    expect(errors).toEqual([]);

    const events = await waitForEvent(site, (e) => e.name === 'page_script_ran');
    expect(named(events, 'pageview').map((e) => path(e.url))).toEqual([
      'own-scripts.html',
      'own-scripts.html?tab=2',
      'own-scripts.html?tab=3',
    ]);
    // Listening in the capture phase, the snippet sees a click whose handler stops propagation.
    expect(named(events, 'outbound')).toHaveLength(1);
  });

  test('does not throw and falls back to no visitor id when localStorage throws (sandboxed frame)', async () => {
    const site = harness.site();
    const { page, errors } = await openPage();
    await page.goto(harness.page(site, 'framed.html'));
    const result = await waitFor(async () => {
      const text = await page.textContent('#result');
      return text
        ? (JSON.parse(text) as { storageBlocked: boolean; stint: string; errors: string[] })
        : undefined;
    });
    expect(result).toEqual({ storageBlocked: true, stint: 'function', errors: [] });
    const events = await waitForEvent(site, (e) => e.name === 'widget_loaded');
    expect(events.map((e) => e.name)).toEqual(['pageview', 'widget_loaded']);
    expect(events.filter((e) => 'visitor_id' in e)).toEqual([]);
    expect(errors).toEqual([]);
  });

  test('sends nothing under Global Privacy Control when data-respect-dnt is set, and tracks without it', async () => {
    const respecting = harness.site('data-allow-localhost data-respect-dnt');
    const ignoring = harness.site();
    // Chromium has no GPC switch of its own; browsers that send it expose it like this.
    const { page } = await openPage(() => {
      Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true });
    });
    await page.goto(harness.page(respecting, 'index.html'));
    await page.click('#cta');
    await page.goto(harness.page(ignoring, 'index.html'));
    await waitForEvent(ignoring, (e) => e.name === 'pageview');
    expect(harness.events(respecting)).toEqual([]);
  });
});

declare global {
  interface Window {
    stint?: (name: string, options?: { props?: Record<string, string | number | boolean> }) => void;
  }
}

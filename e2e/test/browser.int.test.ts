/**
 * The whole pipeline as a visitor and an analyst see it: real Chromium browses a fixture marketing
 * site carrying the snippet served by the real collector; events flow through Kafka and the real
 * sessionizer into ClickHouse; the test reads the result back through the real api and through SQL
 * on the `sessions` view.
 */
import { execFileSync } from 'node:child_process';
import { queryRows, sql } from '@stint/infra/clickhouse';
import { waitFor } from '@stint/infra/testing';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, expect, onTestFailed, test } from 'vitest';
import { type FixtureSite, startFixtureSite } from '../src/fixture-site.ts';
import { type Pipeline, startPipeline } from '../src/pipeline.ts';

const SITE = 'acme.test';
/** Headless Chromium announces itself as HeadlessChrome, which the collector rightly drops as a bot. */
const DESKTOP_CHROME =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

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

let pipeline: Pipeline;
let site: FixtureSite;
let browser: Browser;

beforeAll(async () => {
  [pipeline, browser] = await Promise.all([
    startPipeline({ label: 'browser', sites: [{ site_id: SITE }], partitions: 4 }),
    chromium.launch({
      executablePath: chromiumPath(),
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        // Browser-wide, not only per context: beacons sent while a page unloads carry this one.
        `--user-agent=${DESKTOP_CHROME}`,
      ],
    }),
  ]);
  site = await startFixtureSite({ site: SITE, collector: pipeline.collector.url });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await pipeline?.close();
});

interface SessionRow {
  session_id: string;
  visitor_id: string;
  started_at: string;
  ended_at: string;
  duration_s: number;
  pageviews: number;
  events: number;
  engaged_ms: number;
  entry_path: string;
  exit_path: string;
  is_bounce: number;
  has_conversion: number;
  start_reason: string;
}

async function sessionsOf(visitor: string): Promise<SessionRow[]> {
  const rows = await queryRows<SessionRow>(
    pipeline.client,
    sql`SELECT session_id, visitor_id, toString(started_at) AS started_at, toString(ended_at) AS ended_at,
          duration_s, pageviews, events, engaged_ms, entry_path, exit_path, is_bounce, has_conversion,
          start_reason
        FROM sessions WHERE site_id = ${SITE} AND visitor_id = ${visitor} ORDER BY started_at`,
  );
  return rows.map((r) => ({
    ...r,
    duration_s: Number(r.duration_s),
    pageviews: Number(r.pageviews),
    events: Number(r.events),
    engaged_ms: Number(r.engaged_ms),
    is_bounce: Number(r.is_bounce),
    has_conversion: Number(r.has_conversion),
  }));
}

async function api<T>(report: string, query: Record<string, string>): Promise<T> {
  const res = await fetch(
    `${pipeline.api.url}/api/v1/sites/${SITE}/${report}?${new URLSearchParams(query)}`,
    {
      headers: { authorization: `Bearer ${pipeline.readToken[SITE]}` },
    },
  );
  if (res.status !== 200) throw new Error(`${report}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** `YYYY-MM-DDThh:mmZ`, the api's datetime form. */
const minute = (ms: number) => `${new Date(ms).toISOString().slice(0, 16)}Z`;

test('a browsed visit and an earlier visit of the same visitor become two sessions, read back through the api and SQL within seconds', async () => {
  let lastSeen: unknown = null;
  onTestFailed(() => {
    console.error(`last sessions seen: ${JSON.stringify(lastSeen, null, 1)}\n${pipeline.logs(40)}`);
  });
  const context = await browser.newContext({ userAgent: DESKTOP_CHROME });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));

  // Landing, then a real navigation to pricing, where the visitor reads for ~2 s and signs up.
  const started = Date.now();
  await page.goto(site.url('/'));
  await page.waitForFunction(() => localStorage.getItem('stint_id') !== null);
  await page.click('#to-pricing');
  await page.waitForURL('**/pricing.html');
  await page.waitForTimeout(2000);
  await page.click('#signup');
  // On to the SPA; a client-side navigation, ~2 s on its second view, then the visitor leaves.
  await page.click('#to-app');
  await page.waitForURL('**/app/');
  await page.click('#route-features');
  await page.waitForURL('**/app/features');
  await page.waitForTimeout(2000);
  const visitor = await page.evaluate(() => localStorage.getItem('stint_id'));
  await page.goto('about:blank');
  expect(visitor).toMatch(/^[0-9a-f]{32}$/);
  if (visitor === null) throw new Error('no visitor id');

  // The same visitor's previous visit two hours earlier, sent by a server-side sender.
  const earlier = started - 2 * 3600_000;
  const res = await fetch(`${pipeline.collector.url}/api/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${pipeline.ingestToken[SITE]}` },
    body: JSON.stringify({
      site: SITE,
      events: [
        {
          site: SITE,
          name: 'pageview',
          url: `${site.origin}/blog.html`,
          referrer: 'https://www.google.com/',
          visitor_id: visitor,
          ts: earlier,
          user_agent: DESKTOP_CHROME,
        },
        {
          site: SITE,
          name: 'pageview',
          url: `${site.origin}/`,
          visitor_id: visitor,
          ts: earlier + 30_000,
          user_agent: DESKTOP_CHROME,
        },
      ],
    }),
  });
  expect(res.status).toBe(202);
  expect(await res.json()).toEqual({ accepted: 2, dropped: 0 });

  // SQL on the analyst view: both sessions, the browsed one with its engagement, within seconds.
  const sessions = await waitFor(
    async () => {
      const rows = await sessionsOf(visitor);
      lastSeen = rows;
      const current = rows[1];
      const done =
        rows.length === 2 &&
        current !== undefined &&
        current.pageviews === 4 &&
        current.has_conversion === 1 &&
        current.engaged_ms >= 3500;
      return done && rows;
    },
    { timeoutMs: 15_000, intervalMs: 250, message: 'two sessions of the visitor in stint.sessions' },
  );
  const [previous, current] = sessions as [SessionRow, SessionRow];
  expect(previous).toMatchObject({
    pageviews: 2,
    events: 2,
    duration_s: 30,
    entry_path: '/blog.html',
    exit_path: '/',
    has_conversion: 0,
  });
  expect(current).toMatchObject({
    pageviews: 4,
    entry_path: '/',
    exit_path: '/app/features',
    has_conversion: 1,
    is_bounce: 0,
  });
  // Engagement events extend the session: ~2 s on pricing and ~2 s on the SPA view at least.
  expect(current.duration_s).toBeGreaterThanOrEqual(4);
  expect(current.duration_s).toBeLessThan(60);
  expect(current.engaged_ms).toBeGreaterThanOrEqual(3500);
  expect(current.engaged_ms).toBeLessThanOrEqual(Date.now() - started + 1000);
  // pageviews 4, signup 1, engagement ≥ 3 (leaving /, leaving pricing, the SPA route, leaving the app).
  expect(current.events).toBeGreaterThanOrEqual(8);

  const signup = await queryRows<{ props: string; path: string }>(
    pipeline.client,
    sql`SELECT props, path FROM events WHERE site_id = ${SITE} AND visitor_id = ${visitor} AND name = 'signup'`,
  );
  expect(signup).toEqual([{ props: JSON.stringify({ plan: 'pro', seats: '3' }), path: '/pricing.html' }]);

  // Through the api: the whole range holds both sessions of one (new) visitor…
  type Summary = { data: Record<string, number> };
  const whole = { from: minute(started - 3 * 3600_000), to: minute(Date.now() + 3600_000) };
  const all = await api<Summary>('summary', whole);
  expect(all.data).toMatchObject({
    sessions: 2,
    visitors: 1,
    pageviews: 6,
    sessions_per_visitor: 2,
    new_visitors: 1,
    returning_visitors: 0,
    returning_visitor_share: 0,
  });
  // …and the last hour holds one session of a returning visitor.
  const lastHour = await api<Summary>('summary', { from: minute(started - 3600_000), to: whole.to });
  expect(lastHour.data).toMatchObject({
    sessions: 1,
    visitors: 1,
    pageviews: 4,
    returning_visitors: 1,
    returning_visitor_share: 1,
  });
  expect(lastHour.data.avg_duration_s).toBeGreaterThanOrEqual(4);

  const frequency = await api<{
    data: {
      visitors: number;
      sessions_per_visitor: { label: string; visitors: number }[];
      days_since_previous: {
        sessions: number;
        first_sessions: number;
        buckets: { label: string; sessions: number }[];
      };
    };
  }>('frequency', { ...whole, interval: 'hour' });
  expect(frequency.data.visitors).toBe(1);
  expect(frequency.data.sessions_per_visitor.find((b) => b.label === '2')?.visitors).toBe(1);
  expect(frequency.data.days_since_previous).toMatchObject({ sessions: 2, first_sessions: 1 });
  expect(frequency.data.days_since_previous.buckets.find((b) => b.label === '0')?.sessions).toBe(1);

  expect(pageErrors).toEqual([]);
  await context.close();
});

/**
 * The api against the real ClickHouse 18.16: a fixture of known sessions and events (with stale
 * versions and a tombstone the views must hide) in a test database; every endpoint's numbers equal to
 * the independent computation from the fixture's events; auth, site isolation and bad input.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { insertRows } from '@stint/infra/clickhouse';
import { addSite, createToken, revokeToken } from '@stint/infra/registry';
import { createTestDatabase, type TestDatabase } from '@stint/infra/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../src/app.ts';
import { BREAKDOWNS, FILTER_KEYS } from '../src/queries/index.ts';
import {
  bucketLabel,
  buildSessions,
  expectedBreakdown,
  expectedDuration,
  expectedFrequency,
  expectedMetrics,
  expectedRealtime,
  expectedTimeseries,
  FILTER_CASES,
  FROM,
  NOW,
  qs,
  RANGE,
  rawRows,
  SITE_A,
  SITE_B,
  select,
  TO,
  TZ_A,
} from './fixture.ts';
import { expectClose } from './fixture-api.ts';

const all = buildSessions();
// The previous 5 local days: 2024-03-03 .. 2024-03-07.
const PREV_FROM = Date.UTC(2024, 2, 3, 5);

let db: TestDatabase;
let app: FastifyInstance;
const tokens = { a: '', b: '', admin: '', ingestA: '', revoked: '' };

beforeAll(async () => {
  db = await createTestDatabase('api');
  await addSite(db.client, db.database, { site_id: SITE_A, timezone: TZ_A });
  await addSite(db.client, db.database, { site_id: SITE_B, timezone: 'UTC' });
  tokens.a = (await createToken(db.client, db.database, { site: SITE_A, scope: 'read' })).secret;
  tokens.b = (await createToken(db.client, db.database, { site: SITE_B, scope: 'read' })).secret;
  tokens.admin = (await createToken(db.client, db.database, { site: '*', scope: 'read' })).secret;
  tokens.ingestA = (await createToken(db.client, db.database, { site: SITE_A, scope: 'ingest' })).secret;
  const revoked = await createToken(db.client, db.database, { site: SITE_A, scope: 'read' });
  await revokeToken(db.client, db.database, revoked.id);
  tokens.revoked = revoked.secret;
  const rows = rawRows(all);
  // Separate inserts make separate parts, so FINAL (not a background merge) must hide the stale rows.
  await insertRows(db.client, `${db.database}.sessions_raw`, rows.sessions.slice(0, 40));
  await insertRows(db.client, `${db.database}.sessions_raw`, rows.sessions.slice(40));
  await insertRows(db.client, `${db.database}.events_raw`, rows.events);
  app = await buildApi({ client: db.client, database: db.database, now: () => NOW, staticRoot: null });
});

afterAll(async () => {
  await app?.close();
  await db?.drop();
});

async function get(url: string, token: string | null = tokens.a) {
  const res = await app.inject({
    method: 'GET',
    url,
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON whose values the tests check one by one
  return { status: res.statusCode, body: res.json() as Record<string, any> };
}

describe('reports equal the independent computation from the fixture', () => {
  it('summary has every metric right, with each filter', async () => {
    for (const f of FILTER_CASES) {
      const { status, body } = await get(`/api/v1/sites/${SITE_A}/summary?${RANGE}${qs(f)}`);
      expect(status).toBe(200);
      expect(body.range).toEqual({ from: new Date(FROM).toISOString(), to: new Date(TO).toISOString() });
      expectClose(body.data, expectedMetrics(select(all, SITE_A, FROM, TO, f), all), JSON.stringify(f));
    }
  });

  it('the fixture exercises every metric (non-zero bounces, returning visitors, engaged time)', async () => {
    const want = expectedMetrics(select(all, SITE_A, FROM, TO), all);
    expect(want.sessions).toBeGreaterThan(50);
    expect(want.bounces).toBeGreaterThan(0);
    expect(want.returning_visitors).toBeGreaterThan(0);
    expect(want.new_visitors).toBeGreaterThan(0);
    expect(want.avg_engaged_time_s).toBeGreaterThan(0);
  });

  it('compare=previous returns the previous period of the same number of local days', async () => {
    const { body } = await get(`/api/v1/sites/${SITE_A}/summary?${RANGE}&compare=previous`);
    expect(body.previous.range).toEqual({
      from: new Date(PREV_FROM).toISOString(),
      to: new Date(FROM).toISOString(),
    });
    expectClose(body.previous.data, expectedMetrics(select(all, SITE_A, PREV_FROM, FROM), all), 'previous');
    expectClose(body.data, expectedMetrics(select(all, SITE_A, FROM, TO), all), 'current');
    expect(body.previous.data.sessions).toBeGreaterThan(0);
  });

  it('timeseries gives every bucket of the range in the site time zone, empty ones as zero', async () => {
    const expectedCount = { hour: 5 * 24 - 1, day: 5, week: 2, month: 1 };
    for (const interval of ['hour', 'day', 'week', 'month'] as const) {
      const { status, body } = await get(
        `/api/v1/sites/${SITE_A}/timeseries?${RANGE}&interval=${interval}&country=US`,
      );
      expect(status).toBe(200);
      const points = body.data.points as ({ bucket: string; sessions: number } & Record<string, number>)[];
      // 119 hours: the night of the 10th has no 2 a.m. in New York.
      expect(points.length, interval).toBe(expectedCount[interval]);
      expect(points[0]?.bucket).toBe(bucketLabel(FROM, TZ_A, interval));
      const want = expectedTimeseries(select(all, SITE_A, FROM, TO, { country: 'US' }), all, TZ_A, interval);
      for (const p of points) {
        const w = want.get(p.bucket);
        if (w) expectClose(p, w, `${interval} ${p.bucket}`);
        else expect(p.sessions, `${interval} ${p.bucket}`).toBe(0);
      }
      expect(points.reduce((a, p) => a + p.sessions, 0)).toBe(
        select(all, SITE_A, FROM, TO, { country: 'US' }).length,
      );
    }
  });

  it('every breakdown has the right rows, ordered by visitors, cut at limit', async () => {
    for (const by of BREAKDOWNS) {
      const { status, body } = await get(`/api/v1/sites/${SITE_A}/breakdown?${RANGE}&by=${by}&limit=1000`);
      expect(status).toBe(200);
      const want = expectedBreakdown(select(all, SITE_A, FROM, TO), by);
      expect(body.data.rows.length, by).toBe(want.length);
      for (const w of want) {
        const { key, ...numbers } = w;
        const row = body.data.rows.find((r: { key: string }) => r.key === key);
        expect(row, `${by} ${key}`).toBeDefined();
        expectClose(row, numbers, `${by} ${key}`);
      }
      const visitors = body.data.rows.map((r: { visitors: number }) => r.visitors);
      expect(visitors).toEqual([...visitors].sort((x, y) => y - x));
    }
    const { body } = await get(`/api/v1/sites/${SITE_A}/breakdown?${RANGE}&by=page&limit=2&device=mobile`);
    expect(body.data.rows.length).toBe(2);
  });

  it('duration histogram, median and p90 are right', async () => {
    for (const f of [{}, { device: 'mobile' }]) {
      const { body } = await get(`/api/v1/sites/${SITE_A}/duration?${RANGE}${qs(f)}`);
      const want = expectedDuration(select(all, SITE_A, FROM, TO, f));
      expect(body.data.buckets.map((b: { sessions: number }) => b.sessions)).toEqual(want.buckets);
      expect(body.data.median_s).toBe(want.median_s);
      expect(body.data.p90_s).toBe(want.p90_s);
      expect(body.data.avg_s).toBeCloseTo(want.avg_s, 9);
      expect(body.data.sessions).toBe(want.sessions);
    }
    const { body } = await get(`/api/v1/sites/${SITE_A}/duration?${RANGE}`);
    // The fixture reaches every bucket.
    expect(body.data.buckets.every((b: { sessions: number }) => b.sessions > 0)).toBe(true);
  });

  it('frequency histograms and new vs returning over time are right', async () => {
    const { body } = await get(`/api/v1/sites/${SITE_A}/frequency?${RANGE}&interval=day`);
    const sel = select(all, SITE_A, FROM, TO);
    const want = expectedFrequency(sel, all);
    expect(body.data.visitors).toBe(want.visitors);
    expect(body.data.sessions_per_visitor.map((b: { visitors: number }) => b.visitors)).toEqual(
      want.sessions_per_visitor,
    );
    expect(body.data.days_since_previous.first_sessions).toBe(want.first_sessions);
    expect(body.data.days_since_previous.buckets.map((b: { sessions: number }) => b.sessions)).toEqual(
      want.days_since_previous,
    );
    expect(want.sessions_per_visitor.at(-1)).toBeGreaterThan(0);
    const series = expectedTimeseries(sel, all, TZ_A, 'day');
    for (const p of body.data.new_vs_returning.points) {
      expect(p.new_visitors).toBe(series.get(p.bucket)?.new_visitors ?? 0);
      expect(p.returning_visitors).toBe(series.get(p.bucket)?.returning_visitors ?? 0);
    }
  });

  it('frequency with a filter counts only the selected sessions, new visitors by their first session', async () => {
    for (const f of [{ country: 'US' }, { page: "/o'brien" }] as const) {
      const [k, v] = Object.entries(f)[0] as [string, string];
      const { body } = await get(
        `/api/v1/sites/${SITE_A}/frequency?${RANGE}&interval=day&${k}=${encodeURIComponent(v)}`,
      );
      const sel = select(all, SITE_A, FROM, TO, f);
      const want = expectedFrequency(sel, all);
      expect(body.data.visitors, k).toBe(want.visitors);
      expect(body.data.sessions_per_visitor.map((b: { visitors: number }) => b.visitors)).toEqual(
        want.sessions_per_visitor,
      );
      expect(body.data.days_since_previous.first_sessions).toBe(want.first_sessions);
      expect(body.data.days_since_previous.buckets.map((b: { sessions: number }) => b.sessions)).toEqual(
        want.days_since_previous,
      );
      const series = expectedTimeseries(sel, all, TZ_A, 'day');
      for (const p of body.data.new_vs_returning.points) {
        expect(p.new_visitors, `${k} ${p.bucket}`).toBe(series.get(p.bucket)?.new_visitors ?? 0);
        expect(p.returning_visitors, `${k} ${p.bucket}`).toBe(series.get(p.bucket)?.returning_visitors ?? 0);
      }
    }
  });

  it('realtime counts the last five minutes before now, and its top pages', async () => {
    const { status, body } = await get(`/api/v1/sites/${SITE_A}/realtime`);
    expect(status).toBe(200);
    const want = expectedRealtime(all, SITE_A, NOW);
    expect(want.visitors).toBeGreaterThan(0);
    expect([body.data.visitors, body.data.sessions, body.data.pageviews]).toEqual([
      want.visitors,
      want.sessions,
      want.pageviews,
    ]);
    expect(body.data.top_pages).toHaveLength(want.top_pages.length);
    expect(body.data.top_pages).toEqual(expect.arrayContaining(want.top_pages));
  });
});

describe('auth and site isolation', () => {
  const url = `/api/v1/sites/${SITE_A}/summary?${RANGE}`;

  it('refuses requests without a valid read token with 401', async () => {
    expect((await get(url, null)).status).toBe(401);
    expect((await get(url, 'nonsense')).status).toBe(401);
    expect((await get(url, tokens.ingestA)).status).toBe(401);
    expect((await get(url, tokens.revoked)).status).toBe(401);
    expect((await get(url, `${tokens.a.slice(0, -2)}xx`)).status).toBe(401);
  });

  it('a token of site B never reads site A (403 on every endpoint)', async () => {
    for (const ep of ['summary', 'timeseries', 'breakdown?by=page', 'duration', 'frequency', 'realtime']) {
      const res = await get(`/api/v1/sites/${SITE_A}/${ep}`, tokens.b);
      expect(res.status, ep).toBe(403);
      expect(JSON.stringify(res.body)).not.toContain('visitors');
    }
  });

  it("site B's token reads only site B's sessions; an admin token reads both", async () => {
    const b = await get(`/api/v1/sites/${SITE_B}/summary?from=2024-03-01&to=2024-03-31`, tokens.b);
    const fromB = Date.UTC(2024, 2, 1);
    const toB = Date.UTC(2024, 3, 1);
    expectClose(b.body.data, expectedMetrics(select(all, SITE_B, fromB, toB), all), 'site B');
    expect(b.body.data.sessions).toBe(12);
    const admin = await get(url, tokens.admin);
    expect(admin.status).toBe(200);
    expect(admin.body.data.sessions).toBe(select(all, SITE_A, FROM, TO).length);
  });

  it('an unknown site is 404 for an admin token and 403 for a site token', async () => {
    expect((await get('/api/v1/sites/nope.example/summary', tokens.admin)).status).toBe(404);
    expect((await get('/api/v1/sites/nope.example/summary', tokens.a)).status).toBe(403);
  });
});

describe('bad input', () => {
  const base = `/api/v1/sites/${SITE_A}`;
  it.each([
    ['summary?from=yesterday', 'from'],
    ['summary?from=2024-02-30', 'from'],
    ['summary?to=2024-03-01T25:00', 'to'],
    ['summary?from=2024-03-10&to=2024-03-01', 'to'],
    ['summary?compare=next', 'compare'],
    ['summary?colour=red', 'colour'],
    ['summary?country=US&country=DE', 'country'],
    ['timeseries?interval=year', 'interval'],
    ['timeseries?from=2020-01-01&to=2024-01-01&interval=hour', 'interval'],
    ['breakdown', 'by'],
    ['breakdown?by=password', 'by'],
    ['breakdown?by=page&limit=0', 'limit'],
    ['breakdown?by=page&limit=ten', 'limit'],
    ['realtime?limit=1000', 'limit'],
  ])('GET %s is a 400 naming %s', async (path, field) => {
    const { status, body } = await get(`${base}/${path}`);
    expect(status).toBe(400);
    expect(body.field).toBe(field);
    expect(body.message).toContain(field);
  });

  it('a malformed site name is a 400', async () => {
    const { status, body } = await get('/api/v1/sites/A%20B/summary', tokens.admin);
    expect(status).toBe(400);
    expect(body.field).toBe('site');
  });

  const INJECTIONS = [
    "' OR 1=1 --",
    "a.example' OR site_id != '",
    "\\' UNION SELECT * FROM system.tables --",
    '`; DROP TABLE sessions_raw; --',
    "x'); DROP DATABASE default; --",
    '\u0000\n\r\t\\',
    '{db}',
    '1 OR 1',
    '%27%20OR%201%3D1',
    'ñ 🚀',
  ].map(encodeURIComponent);
  // Not UTF-8 at all.
  INJECTIONS.push('%FF%FE%00');

  it('injection strings in every parameter give 400 or correct empty results, never a 500', async () => {
    const endpoints = ['summary', 'timeseries', 'breakdown?by=source', 'duration', 'frequency', 'realtime'];
    const params = [...FILTER_KEYS, 'from', 'to', 'compare', 'interval', 'by', 'limit'];
    // Every parameter of every endpoint gets one of the strings; the summary gets all of them.
    const cases = endpoints.flatMap((ep, i) =>
      params.flatMap((p, j) =>
        ep === 'summary'
          ? INJECTIONS.map((evil) => ({ ep, p, evil }))
          : [{ ep, p, evil: INJECTIONS[(i + j) % INJECTIONS.length] as string }],
      ),
    );
    for (const { ep, p, evil } of cases) {
      const sep = ep.includes('?') ? '&' : '?';
      const { status, body } = await get(`${base}/${ep}${sep}${p}=${evil}`);
      expect([200, 400], `${ep} ${p} ${JSON.stringify(evil)}`).toContain(status);
      if (status === 200 && (FILTER_KEYS as readonly string[]).includes(p)) {
        // Realtime shows visitors, the others sessions (or rows, or per-bucket sessions).
        const d = body.data;
        const sessions =
          d.sessions ??
          d.visitors ??
          d.rows?.length ??
          d.points?.reduce((a: number, x: { sessions: number }) => a + x.sessions, 0);
        expect(sessions, `${ep} ${p} ${JSON.stringify(evil)}`).toBe(0);
      }
    }
    for (const evil of INJECTIONS) {
      const site = await get(`/api/v1/sites/${evil}/summary`, tokens.admin);
      expect([400, 404]).toContain(site.status);
    }
    // Nothing was dropped or changed.
    const { body } = await get(`${base}/summary?${RANGE}`);
    expect(body.data.sessions).toBe(select(all, SITE_A, FROM, TO).length);
  });
});

describe('service routes', () => {
  it('answers /healthz and /readyz', async () => {
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
    const ready = await app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json().checks.clickhouse).toBe(true);
  });

  it('serves an OpenAPI document generated from the schemas at /docs', async () => {
    const spec = (await app.inject({ url: '/docs/json' })).json();
    expect(spec.openapi).toMatch(/^3\./);
    for (const ep of ['summary', 'timeseries', 'breakdown', 'duration', 'frequency', 'realtime']) {
      expect(Object.keys(spec.paths)).toContain(`/api/v1/sites/{site}/${ep}`);
    }
    const params = spec.paths['/api/v1/sites/{site}/breakdown'].get.parameters.map(
      (p: { name: string }) => p.name,
    );
    expect(params).toEqual(expect.arrayContaining(['by', 'limit', 'from', 'to', 'page', 'country']));
    expect((await app.inject({ url: '/docs' })).statusCode).toBeLessThan(400);
  });

  it('serves the dashboard files at / when the folder exists', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-dash-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Stint</title>');
    const withStatic = await buildApi({ client: db.client, database: db.database, staticRoot: dir });
    try {
      const res = await withStatic.inject({ url: '/' });
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('<title>Stint</title>');
    } finally {
      await withStatic.close();
    }
    expect((await app.inject({ url: '/' })).statusCode).toBe(404);
  });
});

/**
 * The report cache against ClickHouse 18.16: a repeated request is answered from the cache, and a late
 * correction (a session tombstoned at a higher version, its page views re-tagged) written after the
 * first answer makes the next answer equal the independent computation of the corrected data.
 */
import { insertRows } from '@stint/infra/clickhouse';
import { addSite, createToken } from '@stint/infra/registry';
import { createTestDatabase, type TestDatabase } from '@stint/infra/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../src/app.ts';
import type { CacheStats } from '../src/report-cache.ts';
import {
  buildSessions,
  expectedBreakdown,
  expectedFrequency,
  expectedMetrics,
  type FxSession,
  NOW,
  rawRows,
  SITE_A,
  select,
  sessionRow,
  TZ_A,
} from './fixture.ts';

const all = buildSessions();
const RANGE = 'from=2024-03-08&to=2024-03-12';
const FROM = Date.UTC(2024, 2, 8, 5);
const TO = Date.UTC(2024, 2, 13, 4);

let db: TestDatabase;
let app: FastifyInstance;
let token = '';
const stats: CacheStats = { hits: 0, misses: 0, bypassed: 0, raced: 0 };

beforeAll(async () => {
  db = await createTestDatabase('api_cache');
  await addSite(db.client, db.database, { site_id: SITE_A, timezone: TZ_A });
  token = (await createToken(db.client, db.database, { site: SITE_A, scope: 'read' })).secret;
  const rows = rawRows(all);
  await insertRows(db.client, `${db.database}.sessions_raw`, rows.sessions);
  await insertRows(db.client, `${db.database}.events_raw`, rows.events);
  app = await buildApi({
    client: db.client,
    database: db.database,
    now: () => NOW,
    staticRoot: null,
    reportCache: { stats },
  });
});

afterAll(async () => {
  await app?.close();
  await db?.drop();
});

async function get(path: string) {
  const res = await app.inject({
    method: 'GET',
    url: `/api/v1/sites/${SITE_A}/${path}`,
    headers: { authorization: `Bearer ${token}` },
  });
  expect(res.statusCode).toBe(200);
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON whose values the tests check one by one
  return res.json() as Record<string, any>;
}

function expectClose(got: Record<string, number>, want: Record<string, number>, label: string) {
  for (const [k, v] of Object.entries(want)) expect(got[k], `${label}: ${k}`).toBeCloseTo(v, 9);
}

async function expectTruth(sessions: readonly FxSession[]) {
  const sel = select(sessions, SITE_A, FROM, TO);
  expectClose((await get(`summary?${RANGE}`)).data, expectedMetrics(sel, sessions), 'summary');
  const pages = (await get(`breakdown?${RANGE}&by=page&limit=1000`)).data.rows as { key: string }[];
  const want = expectedBreakdown(sel, 'page');
  expect(pages.length).toBe(want.length);
  for (const w of want) expect(pages.find((r) => r.key === w.key)).toMatchObject(w);
  const f = (await get(`frequency?${RANGE}&interval=day`)).data;
  const wf = expectedFrequency(sel, sessions);
  expect(f.sessions_per_visitor.map((b: { visitors: number }) => b.visitors)).toEqual(
    wf.sessions_per_visitor,
  );
  expect(f.days_since_previous.first_sessions).toBe(wf.first_sessions);
}

describe('report cache', () => {
  it('answers a repeated request from the cache with the same numbers', async () => {
    await expectTruth(all);
    const misses = stats.misses;
    const hits = stats.hits;
    await expectTruth(all);
    expect(stats.misses).toBe(misses);
    expect(stats.hits).toBeGreaterThan(hits);
  });

  it('a late correction written after a cached answer shows in the next answer', async () => {
    await expectTruth(all);
    // A late correction of a session in the range: a higher version that tombstones it (as when it
    // was merged into another session), with no part of the old answer surviving it.
    const victim = all.find(
      (s) =>
        s.site === SITE_A &&
        (s.events[0]?.ts ?? 0) >= FROM + 86_400_000 &&
        (s.events[0]?.ts ?? 0) < TO &&
        s.events.some((e) => e.name === 'pageview'),
    ) as FxSession;
    expect(victim).toBeDefined();
    await insertRows(db.client, `${db.database}.sessions_raw`, [sessionRow(victim, 9, 1)]);
    const corrected = all.filter((s) => s !== victim);
    const misses = stats.misses;
    await expectTruth(corrected);
    expect(stats.misses).toBeGreaterThan(misses);
  });
});

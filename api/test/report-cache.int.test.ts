/**
 * The report cache against ClickHouse 18.16: a repeated request is answered from the cache, and a late
 * correction (a session tombstoned at a higher version, its page views re-tagged) written after the
 * first answer makes the next answer equal the independent computation of the corrected data.
 */
import { insertRows } from '@stint/infra/clickhouse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CacheStats } from '../src/report-cache.ts';
import {
  buildSessions,
  expectedBreakdown,
  expectedFrequency,
  expectedMetrics,
  FROM,
  type FxSession,
  RANGE,
  SITE_A,
  select,
  sessionRow,
  TO,
} from './fixture.ts';
import { expectClose, type FixtureApi, fixtureApi, lateCorrectionVictim } from './fixture-api.ts';

const all = buildSessions();
const stats: CacheStats = { hits: 0, misses: 0, bypassed: 0, raced: 0 };
let fx: FixtureApi;
const get = (path: string) => fx.get(path);

beforeAll(async () => {
  fx = await fixtureApi('api_cache', all, { reportCache: { stats } });
});

afterAll(async () => {
  await fx?.close();
});

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
    const victim = lateCorrectionVictim(all);
    await insertRows(fx.db.client, `${fx.db.database}.sessions_raw`, [sessionRow(victim, 9, 1)]);
    const corrected = all.filter((s) => s !== victim);
    const misses = stats.misses;
    await expectTruth(corrected);
    expect(stats.misses).toBeGreaterThan(misses);
  });
});

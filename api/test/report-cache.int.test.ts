/**
 * The report cache against ClickHouse 18.16: a repeated request is answered from the cache, and a late
 * correction (a session tombstoned at a higher version, its page views re-tagged) written after the
 * first answer makes the next answer equal the independent computation of the corrected data.
 * Sessions written to months after the range (the live sessionizer writing today while someone reads
 * an older range) leave the cached answers in place, and they stay equal to the truth.
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

beforeAll(async () => {
  fx = await fixtureApi('api_cache', all, { reportCache: { stats } });
});

afterAll(async () => {
  await fx?.close();
});

const DAY = 86_400_000;
/** A copy of `s` moved in time, as another session (of another visitor when `visitor` is given). */
function moved(s: FxSession, byMs: number, id: string, visitor = s.visitor): FxSession {
  return { ...s, id, visitor, events: s.events.map((e) => ({ ...e, ts: e.ts + byMs })) };
}

async function expectTruth(sessions: readonly FxSession[], get = (path: string) => fx.get(path)) {
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

describe('report cache while later months are written', () => {
  // A database of its own: the tests above change theirs.
  const monthStats: CacheStats = { hits: 0, misses: 0, bypassed: 0, raced: 0 };
  let own: FixtureApi;
  beforeAll(async () => {
    // settleSeconds 0: the fixture was inserted just now (the minute's wait is tested in the unit tests).
    own = await fixtureApi('api_cache_months', all, { reportCache: { stats: monthStats, settleSeconds: 0 } });
  });
  afterAll(async () => {
    await own?.close();
  });
  const truth = (sessions: readonly FxSession[]) => expectTruth(sessions, (path) => own.get(path));

  it('keeps answers over a range while sessions of later months come, and misses on a session before its end', async () => {
    const inRange = select(all, SITE_A, FROM, TO);
    const first = inRange[0] as FxSession;
    // Two months later: another session of a visitor of the range (with a tombstoned version, as
    // when the sessionizer moves a start), and a new visitor's first session.
    const later = [moved(first, 60 * DAY, 'later-1'), moved(first, 61 * DAY, 'later-2', 'visitor-of-may')];
    let sessions = [...all];
    await truth(sessions);
    const misses = monthStats.misses;
    await insertRows(own.db.client, `${own.db.database}.sessions_raw`, [
      ...later.map((x) => sessionRow(x, 1)),
      sessionRow(moved(first, 62 * DAY, 'later-3'), 2, 1),
    ]);
    sessions = [...sessions, ...later];
    await truth(sessions);
    expect(monthStats.misses).toBe(misses);
    // A month before the range: an earlier session of a visitor first seen in the range, which makes
    // the visitor returning. That month is covered: the answers are computed again.
    const newcomer = inRange.find(
      (x) => !all.some((y) => y.visitor === x.visitor && (y.events[0]?.ts ?? 0) < FROM),
    );
    if (!newcomer) throw new Error('the fixture has no visitor first seen in the range');
    const earlier = moved(newcomer, -31 * DAY, 'earlier-1');
    await insertRows(own.db.client, `${own.db.database}.sessions_raw`, [sessionRow(earlier, 1)]);
    sessions = [...sessions, earlier];
    await truth(sessions);
    expect(monthStats.misses).toBeGreaterThan(misses);
  });
});

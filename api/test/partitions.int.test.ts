/**
 * FINAL skipped in merged months, against ClickHouse 18.16: after OPTIMIZE every month of the fixture
 * is one merged part and every report read without FINAL still equals the independent computation; a
 * late correction amends its month (the merged part read without FINAL but for the rewritten ids),
 * more writes make it a FINAL month again, and the reports follow both.
 */
import { insertRows } from '@stint/infra/clickhouse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listParts } from '../src/partitions.ts';
import { BREAKDOWNS } from '../src/queries/index.ts';
import {
  buildSessions,
  expectedBreakdown,
  expectedDuration,
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
let fx: FixtureApi;
const get = (path: string) => fx.get(path);

beforeAll(async () => {
  fx = await fixtureApi('api_parts', all, { reportCache: null, merged: true });
});

afterAll(async () => {
  await fx?.close();
});

async function expectTruth(sessions: readonly FxSession[]) {
  const sel = select(sessions, SITE_A, FROM, TO);
  for (const f of [{}, { page: "/o'brien" }, { country: 'US' }] as const) {
    const q = Object.entries(f)
      .map(([k, v]) => `&${k}=${encodeURIComponent(v)}`)
      .join('');
    const s = await get(`summary?${RANGE}${q}`);
    expectClose(s.data, expectedMetrics(select(sessions, SITE_A, FROM, TO, f), sessions), JSON.stringify(f));
  }
  for (const by of BREAKDOWNS) {
    const rows = (await get(`breakdown?${RANGE}&by=${by}&limit=1000`)).data.rows as { key: string }[];
    const want = expectedBreakdown(sel, by);
    expect(rows.length, by).toBe(want.length);
    for (const w of want) {
      const { key, ...numbers } = w;
      expectClose(rows.find((r) => r.key === key) as never, numbers, `${by} ${key}`);
    }
  }
  const d = (await get(`duration?${RANGE}`)).data;
  const wd = expectedDuration(sel);
  expect([d.median_s, d.p90_s, d.sessions]).toEqual([wd.median_s, wd.p90_s, wd.sessions]);
  const f = (await get(`frequency?${RANGE}&interval=day`)).data;
  const wf = expectedFrequency(sel, sessions);
  expect(f.sessions_per_visitor.map((b: { visitors: number }) => b.visitors)).toEqual(
    wf.sessions_per_visitor,
  );
  expect(f.days_since_previous.buckets.map((b: { sessions: number }) => b.sessions)).toEqual(
    wf.days_since_previous,
  );
  expect(f.days_since_previous.first_sessions).toBe(wf.first_sessions);
}

describe('reports without FINAL in merged months', () => {
  it('every month of the merged fixture is clean, and every report equals the independent computation', async () => {
    const l = await listParts(fx.db.client, fx.db.database);
    expect(l.clean.sessions.some((n) => n.startsWith('202403_'))).toBe(true);
    expect(l.clean.events.some((n) => n.startsWith('202403_'))).toBe(true);
    await expectTruth(all);
  });

  it('a late correction and a rewrite amend their month (read without FINAL but for the ids they rewrote), and the reports show them', async () => {
    const victim = lateCorrectionVictim(all);
    await insertRows(fx.db.client, `${fx.db.database}.sessions_raw`, [sessionRow(victim, 9, 1)]);
    // An open session rewritten with the same content, the same version landing in two parts.
    const rewritten = select(all, SITE_A, FROM, TO).find((s) => s !== victim) as FxSession;
    for (let i = 0; i < 2; i++)
      await insertRows(fx.db.client, `${fx.db.database}.sessions_raw`, [sessionRow(rewritten, 9)]);
    const l = await listParts(fx.db.client, fx.db.database);
    expect(l.clean.sessions.some((n) => n.startsWith('202403_'))).toBe(false);
    expect(l.clean.sessionsAmended?.merged.some((n) => n.startsWith('202403_'))).toBe(true);
    await expectTruth(all.filter((s) => s !== victim));
  });

  it('a month with too much written since its merge is read with FINAL, and the reports stay right', async () => {
    const victim = lateCorrectionVictim(all);
    const inMarch = select(all, SITE_A, FROM, TO).filter((s) => s !== victim);
    await insertRows(
      fx.db.client,
      `${fx.db.database}.sessions_raw`,
      inMarch.map((s) => sessionRow(s, 10)),
    );
    const l = await listParts(fx.db.client, fx.db.database);
    expect(l.clean.sessionsAmended?.merged.some((n) => n.startsWith('202403_')) ?? false).toBe(false);
    await expectTruth(all.filter((s) => s !== victim));
  });
});

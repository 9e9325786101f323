/**
 * FINAL skipped in merged months, against ClickHouse 18.16: after OPTIMIZE every month of the fixture
 * is one merged part and every report read without FINAL still equals the independent computation; a
 * late correction makes its month a FINAL month again, and the reports follow it.
 */
import { exec, insertRows } from '@stint/infra/clickhouse';
import { addSite, createToken } from '@stint/infra/registry';
import { createTestDatabase, type TestDatabase } from '@stint/infra/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../src/app.ts';
import { listParts } from '../src/partitions.ts';
import { BREAKDOWNS } from '../src/queries/index.ts';
import {
  buildSessions,
  expectedBreakdown,
  expectedDuration,
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

beforeAll(async () => {
  db = await createTestDatabase('api_parts');
  await addSite(db.client, db.database, { site_id: SITE_A, timezone: TZ_A });
  token = (await createToken(db.client, db.database, { site: SITE_A, scope: 'read' })).secret;
  const rows = rawRows(all);
  // Two inserts per table, so OPTIMIZE really merges (and drops the stale versions).
  const half = (xs: Record<string, unknown>[]) => [xs.slice(0, xs.length >> 1), xs.slice(xs.length >> 1)];
  for (const part of half(rows.sessions)) await insertRows(db.client, `${db.database}.sessions_raw`, part);
  for (const part of half(rows.events)) await insertRows(db.client, `${db.database}.events_raw`, part);
  await exec(db.client, `OPTIMIZE TABLE ${db.database}.sessions_raw FINAL`);
  await exec(db.client, `OPTIMIZE TABLE ${db.database}.events_raw FINAL`);
  app = await buildApi({
    client: db.client,
    database: db.database,
    now: () => NOW,
    staticRoot: null,
    reportCache: null,
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
    const l = await listParts(db.client, db.database);
    expect(l.clean.sessions.some((n) => n.startsWith('202403_'))).toBe(true);
    expect(l.clean.events.some((n) => n.startsWith('202403_'))).toBe(true);
    await expectTruth(all);
  });

  it('a late correction makes its month a FINAL month again, and the reports show it', async () => {
    const victim = all.find(
      (s) =>
        s.site === SITE_A &&
        (s.events[0]?.ts ?? 0) >= FROM + 86_400_000 &&
        (s.events[0]?.ts ?? 0) < TO &&
        s.events.some((e) => e.name === 'pageview'),
    ) as FxSession;
    await insertRows(db.client, `${db.database}.sessions_raw`, [sessionRow(victim, 9, 1)]);
    const l = await listParts(db.client, db.database);
    expect(l.clean.sessions.some((n) => n.startsWith('202403_'))).toBe(false);
    await expectTruth(all.filter((s) => s !== victim));
  });
});

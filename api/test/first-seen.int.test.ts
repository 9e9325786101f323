/**
 * The first-seen rollup read three ways, against ClickHouse 18.16: grouped while `visitor_first_seen`
 * has several parts (the same visitor in more than one), read as it is once it is one merged part,
 * and amended (the merged part as it is but for the visitors a newer part holds).
 * Every report that uses the first-seen set gives the same answer in both states, and it is the
 * independent computation's.
 */
import { exec } from '@stint/infra/clickhouse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listParts } from '../src/partitions.ts';
import type { FrequencyData, TimeseriesData } from '../src/reports.ts';
import {
  buildSessions,
  expectedFrequency,
  expectedMetrics,
  expectedTimeseries,
  FROM,
  RANGE,
  SITE_A,
  select,
  TO,
  TZ_A,
} from './fixture.ts';
import { expectClose, type FixtureApi, fixtureApi } from './fixture-api.ts';

const all = buildSessions();
let fx: FixtureApi;
const PATHS = [
  `summary?${RANGE}&compare=previous`,
  `summary?${RANGE}&country=US`,
  `timeseries?${RANGE}&interval=day`,
  `timeseries?${RANGE}&interval=hour`,
  `frequency?${RANGE}&interval=day`,
];

beforeAll(async () => {
  fx = await fixtureApi('api_first_seen', all, { reportCache: null, merged: true });
});

afterAll(async () => {
  await fx?.close();
});

async function reports(): Promise<unknown[]> {
  return Promise.all(PATHS.map((p) => fx.get(p)));
}

type Body<T> = { data: T };
type Numbers = Record<string, number>;

function expectTruth(got: unknown[]) {
  const [summary, filtered, byDay, , frequency] = got as [
    Body<Numbers>,
    Body<Numbers>,
    Body<TimeseriesData>,
    unknown,
    Body<FrequencyData>,
  ];
  const sel = select(all, SITE_A, FROM, TO);
  expectClose(summary.data, expectedMetrics(sel, all), 'summary');
  expectClose(filtered.data, expectedMetrics(select(all, SITE_A, FROM, TO, { country: 'US' }), all), 'US');
  const want = expectedTimeseries(sel, all, TZ_A, 'day');
  for (const p of byDay.data.points) {
    if (p.sessions > 0) expectClose(p as unknown as Numbers, want.get(p.bucket) as Numbers, p.bucket);
  }
  const wf = expectedFrequency(sel, all);
  const f = frequency.data;
  expect(f.days_since_previous.first_sessions).toBe(wf.first_sessions);
  const points = f.new_vs_returning.points;
  expect(points.reduce((a, p) => a + p.new_visitors, 0)).toBe(expectedMetrics(sel, all).new_visitors);
}

describe('first-seen rollup, grouped or read as one merged part', () => {
  it('gives the same reports with the rollup in several parts and in one merged part', async () => {
    const table = `${fx.db.database}.visitor_first_seen`;
    // Several parts: every visitor once more with the start of its latest session, as a flush of its
    // latest session alone would write it (the earliest stays the same). Read ungrouped, a visitor
    // returning in the range would look new.
    await exec(fx.db.client, `SYSTEM STOP MERGES ${table}`);
    await exec(
      fx.db.client,
      `INSERT INTO ${table} SELECT site_id, visitor_id, minState(latest) FROM
       (SELECT site_id, visitor_id, max(started_at) AS latest FROM ${fx.db.database}.sessions_raw
        GROUP BY site_id, visitor_id) GROUP BY site_id, visitor_id`,
    );
    expect((await listParts(fx.db.client, fx.db.database)).clean.firstSeen).toBeUndefined();
    const several = await reports();
    expect((await listParts(fx.db.client, fx.db.database)).clean.firstSeen).toBeUndefined();

    await exec(fx.db.client, `SYSTEM START MERGES ${table}`);
    await exec(fx.db.client, `OPTIMIZE TABLE ${table} FINAL`);
    expect((await listParts(fx.db.client, fx.db.database)).clean.firstSeen).toMatch(/^all_/);
    const merged = await reports();

    // Amended: the merged part and a small newer one, as after the sessionizer's next flush (three
    // visitors written again with their latest start). Read ungrouped, they would count twice.
    await exec(fx.db.client, `SYSTEM STOP MERGES ${table}`);
    await exec(
      fx.db.client,
      `INSERT INTO ${table} SELECT site_id, visitor_id, minState(latest) FROM
       (SELECT site_id, visitor_id, max(started_at) AS latest FROM ${fx.db.database}.sessions_raw
        WHERE site_id = '${SITE_A}' GROUP BY site_id, visitor_id ORDER BY visitor_id LIMIT 3)
       GROUP BY site_id, visitor_id`,
    );
    const listing = await listParts(fx.db.client, fx.db.database);
    expect([listing.clean.firstSeen, listing.clean.firstSeenAmended?.newer.length]).toEqual([undefined, 1]);
    const amended = await reports();
    await exec(fx.db.client, `SYSTEM START MERGES ${table}`);

    expect(merged).toEqual(several);
    expect(amended).toEqual(several);
    expectTruth(merged);
  });
});

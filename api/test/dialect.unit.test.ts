/**
 * Every report query on modern ClickHouse (chdb, 26.x in-process), over the same fixture as the
 * integration tests, compared with the independent computation: the queries are written once for
 * 18.16 (tested against the real server) and must mean the same on current ClickHouse.
 */
import { raw, readMigrations } from '@stint/infra/clickhouse';
import { Session } from 'chdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listingOf } from '../src/partitions.ts';
import { BREAKDOWNS, type ReportParams } from '../src/queries/index.ts';
import {
  breakdownReport,
  durationReport,
  frequencyReport,
  type Runner,
  realtimeReport,
  summaryReport,
  timeseriesReport,
} from '../src/reports.ts';
import {
  buildSessions,
  expectedBreakdown,
  expectedDuration,
  expectedFrequency,
  expectedMetrics,
  expectedRealtime,
  expectedTimeseries,
  FROM,
  NOW,
  rawRows,
  SITE_A,
  select,
  sessionRow,
  TO,
  TZ_A,
} from './fixture.ts';

const DB = 'stint_dialect';
const session = new Session();
const run: Runner = async (q) => {
  const text = session.query(String(q), 'JSONEachRow');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
};
const all = buildSessions();
const params = (filters: ReportParams['filters'] = {}): ReportParams => ({
  database: DB,
  site: SITE_A,
  timezone: TZ_A,
  from: new Date(FROM),
  to: new Date(TO),
  filters,
});

beforeAll(() => {
  session.query(`CREATE DATABASE IF NOT EXISTS ${DB}`);
  for (const m of readMigrations(DB)) for (const s of m.statements) session.query(s);
  const rows = rawRows(all);
  const insert = (table: string, values: Record<string, unknown>[]) =>
    session.query(
      `INSERT INTO ${DB}.${table} FORMAT JSONEachRow\n${values.map((v) => JSON.stringify(v)).join('\n')}`,
    );
  insert('sessions_raw', rows.sessions);
  insert('events_raw', rows.events);
});
afterAll(() => session.cleanup());

describe('report queries on modern ClickHouse (chdb)', () => {
  it('summary equals the independent computation, with and without filters', async () => {
    for (const f of [
      {},
      { country: 'US' },
      { page: "/o'brien", device: 'mobile' },
      { campaign: "spring'24" },
    ]) {
      const got = await summaryReport(run, params(f));
      const want = expectedMetrics(select(all, SITE_A, FROM, TO, f), all);
      for (const [k, v] of Object.entries(want))
        expect(got[k as keyof typeof got], `${k} ${JSON.stringify(f)}`).toBeCloseTo(v, 9);
    }
  });

  it('time series of every interval equals the independent computation', async () => {
    for (const interval of ['hour', 'day', 'week', 'month'] as const) {
      const got = await timeseriesReport(run, params(), interval);
      const want = expectedTimeseries(select(all, SITE_A, FROM, TO), all, TZ_A, interval);
      const nonEmpty = got.points.filter((p) => p.sessions > 0);
      expect(nonEmpty.map((p) => p.bucket).sort()).toEqual([...want.keys()].sort());
      for (const p of nonEmpty) expect(p.visitors).toBe(want.get(p.bucket)?.visitors);
    }
  });

  it('every breakdown equals the independent computation', async () => {
    for (const by of BREAKDOWNS) {
      const got = await breakdownReport(run, params(), by, 1000);
      const want = expectedBreakdown(select(all, SITE_A, FROM, TO), by);
      expect(got.rows.length, by).toBe(want.length);
      for (const w of want)
        expect(
          got.rows.find((r) => r.key === w.key),
          `${by} ${w.key}`,
        ).toEqual(w);
    }
  });

  it('duration and frequency equal the independent computation', async () => {
    const sel = select(all, SITE_A, FROM, TO);
    const d = await durationReport(run, params());
    const wd = expectedDuration(sel);
    expect(d.buckets.map((b) => b.sessions)).toEqual(wd.buckets);
    expect([d.median_s, d.p90_s, d.sessions]).toEqual([wd.median_s, wd.p90_s, wd.sessions]);
    const f = await frequencyReport(run, params(), 'day');
    const wf = expectedFrequency(sel, all);
    expect(f.sessions_per_visitor.map((b) => b.visitors)).toEqual(wf.sessions_per_visitor);
    expect(f.days_since_previous.buckets.map((b) => b.sessions)).toEqual(wf.days_since_previous);
    expect(f.days_since_previous.first_sessions).toBe(wf.first_sessions);
  });

  it('realtime equals the independent computation', async () => {
    const got = await realtimeReport(run, { ...params(), now: new Date(NOW) });
    const want = expectedRealtime(all, SITE_A, NOW);
    expect([got.visitors, got.sessions, got.pageviews]).toEqual([
      want.visitors,
      want.sessions,
      want.pageviews,
    ]);
    expect(got.top_pages).toEqual(expect.arrayContaining(want.top_pages));
    expect(got.top_pages.length).toBe(want.top_pages.length);
  });

  it('with FINAL skipped in merged months and the merged first-seen rollup read ungrouped, every report still equals the independent computation', async () => {
    session.query(`OPTIMIZE TABLE ${DB}.sessions_raw FINAL`);
    session.query(`OPTIMIZE TABLE ${DB}.events_raw FINAL`);
    session.query(`OPTIMIZE TABLE ${DB}.visitor_first_seen FINAL`);
    const parts = (await run(
      raw(`SELECT table, partition, name, level FROM system.parts
        WHERE database = '${DB}' AND table IN ('sessions_raw', 'events_raw', 'visitor_first_seen') AND active`),
    )) as { table: string; partition: string; name: string; level: number }[];
    const { clean } = listingOf(parts.map((r) => ({ ...r, level: Number(r.level) })));
    expect(clean.sessions.some((n) => n.startsWith('202403_'))).toBe(true);
    expect(clean.events.some((n) => n.startsWith('202403_'))).toBe(true);
    expect(clean.firstSeen).toBeDefined(); // the rollup read without grouping
    const sel = select(all, SITE_A, FROM, TO);
    for (const f of [{}, { page: "/o'brien", device: 'mobile' }]) {
      const got = await summaryReport(run, { ...params(f), clean });
      const want = expectedMetrics(select(all, SITE_A, FROM, TO, f), all);
      for (const [k, v] of Object.entries(want))
        expect(got[k as keyof typeof got], `${k} ${JSON.stringify(f)}`).toBeCloseTo(v, 9);
    }
    for (const by of BREAKDOWNS) {
      const got = await breakdownReport(run, { ...params(), clean }, by, 1000);
      const want = expectedBreakdown(sel, by);
      expect(got.rows.length, by).toBe(want.length);
      for (const w of want)
        expect(
          got.rows.find((r) => r.key === w.key),
          `${by} ${w.key}`,
        ).toEqual(w);
    }
    const f = await frequencyReport(run, { ...params(), clean }, 'day');
    const wf = expectedFrequency(sel, all);
    expect(f.sessions_per_visitor.map((b) => b.visitors)).toEqual(wf.sessions_per_visitor);
    expect(f.days_since_previous.buckets.map((b) => b.sessions)).toEqual(wf.days_since_previous);
    const got = await realtimeReport(run, { ...params(), clean, now: new Date(NOW) });
    expect(got.sessions).toBe(expectedRealtime(all, SITE_A, NOW).sessions);
  });

  it('with months amended after their merge (a tombstone, a rewrite in two parts), the reports equal the independent computation', async () => {
    // Runs after the test above: every month is one merged part. Merges stay stopped, so the new
    // parts stay beside it.
    session.query(`SYSTEM STOP MERGES ${DB}.sessions_raw`);
    session.query(`SYSTEM STOP MERGES ${DB}.visitor_first_seen`);
    const inRange = select(all, SITE_A, FROM, TO).filter((x) => x.events.some((e) => e.name === 'pageview'));
    const victim = inRange[1];
    const rewritten = inRange[2];
    if (!victim || !rewritten) throw new Error('the fixture has too few sessions in the range');
    const insert = (row: Record<string, unknown>) =>
      session.query(`INSERT INTO ${DB}.sessions_raw FORMAT JSONEachRow\n${JSON.stringify(row)}`);
    insert(sessionRow(victim, 9, 1));
    insert(sessionRow(rewritten, 9)); // the same version twice, in two parts: equal rows
    insert(sessionRow(rewritten, 9));
    const parts = (await run(
      raw(`SELECT table, partition, name, level, rows FROM system.parts
        WHERE database = '${DB}' AND table IN ('sessions_raw', 'events_raw', 'visitor_first_seen') AND active`),
    )) as { table: string; partition: string; name: string; level: number; rows: number }[];
    const { clean } = listingOf(parts.map((r) => ({ ...r, level: Number(r.level) })));
    expect(clean.sessionsAmended?.newer.length).toBe(3);
    expect(clean.firstSeenAmended?.newer.length).toBe(3); // the rollup rows of the three inserts
    const corrected = all.filter((x) => x !== victim);
    const sel = select(corrected, SITE_A, FROM, TO);
    const got = await summaryReport(run, { ...params(), clean });
    for (const [k, v] of Object.entries(expectedMetrics(sel, corrected)))
      expect(got[k as keyof typeof got], k).toBeCloseTo(v, 9);
    const pages = await breakdownReport(run, { ...params(), clean }, 'page', 1000);
    expect(pages.rows).toEqual(expect.arrayContaining(expectedBreakdown(sel, 'page')));
    expect(pages.rows.length).toBe(expectedBreakdown(sel, 'page').length);
    const f = await frequencyReport(run, { ...params(), clean }, 'day');
    const wf = expectedFrequency(sel, corrected);
    expect(f.sessions_per_visitor.map((b) => b.visitors)).toEqual(wf.sessions_per_visitor);
    expect(f.days_since_previous.buckets.map((b) => b.sessions)).toEqual(wf.days_since_previous);
    session.query(`SYSTEM START MERGES ${DB}.sessions_raw`);
    session.query(`SYSTEM START MERGES ${DB}.visitor_first_seen`);
  });
});

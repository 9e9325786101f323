/**
 * Runs the report queries and shapes their rows into the api's JSON (see README.md). Takes a runner
 * rather than a client, so the same code runs on the ClickHouse server and on chdb in the dialect test.
 */
import type { RawSql } from '@stint/infra/clickhouse';
import { type BREAKDOWN_COLUMNS_OUT, type Breakdown, breakdownQuery } from './queries/breakdown.ts';
import type { ReportParams } from './queries/common.ts';
import { DURATION_BUCKETS, durationQuery } from './queries/duration.ts';
import {
  DAYS_SINCE_PREVIOUS_BUCKETS,
  FREQUENCY_TOTAL_COLUMNS,
  frequencyQuery,
  SESSIONS_PER_VISITOR_BUCKETS,
} from './queries/frequency.ts';
import {
  REALTIME_WINDOW_S,
  type RealtimeParams,
  realtimeQuery,
  topPagesNowQuery,
} from './queries/realtime.ts';
import { type Metrics, toMetrics } from './queries/session-metrics.ts';
import { summaryQuery } from './queries/summary.ts';
import { type Interval, timeseriesQuery } from './queries/timeseries.ts';

export type Row = Record<string, unknown>;
export type Runner = (query: RawSql) => Promise<Row[]>;

const num = (v: unknown): number => {
  const n = Number(v ?? 0);
  return Number.isFinite(n) ? n : 0;
};

export async function summaryReport(run: Runner, p: ReportParams): Promise<Metrics> {
  return toMetrics((await run(summaryQuery(p)))[0]);
}

export type TimeseriesPoint = { bucket: string } & Metrics;
export interface TimeseriesData {
  interval: Interval;
  points: TimeseriesPoint[];
}

export async function timeseriesReport(
  run: Runner,
  p: ReportParams,
  interval: Interval,
): Promise<TimeseriesData> {
  const rows = await run(timeseriesQuery(p, interval));
  return { interval, points: rows.map((r) => ({ bucket: String(r.bucket), ...toMetrics(r) })) };
}

export type BreakdownRow = { key: string } & Record<
  Exclude<(typeof BREAKDOWN_COLUMNS_OUT)[number], 'key'>,
  number
>;
export interface BreakdownData {
  by: Breakdown;
  rows: BreakdownRow[];
}

export async function breakdownReport(
  run: Runner,
  p: ReportParams,
  by: Breakdown,
  limit: number,
): Promise<BreakdownData> {
  const rows = await run(breakdownQuery(p, by, limit));
  return {
    by,
    rows: rows.map((r) => ({
      key: String(r.key),
      visitors: num(r.visitors),
      sessions: num(r.sessions),
      pageviews: num(r.pageviews),
      bounce_rate: num(r.bounce_rate),
      avg_duration_s: num(r.avg_duration_s),
      engagement_rate: num(r.engagement_rate),
    })),
  };
}

export interface DurationData {
  sessions: number;
  buckets: { label: string; min_s: number; max_s: number | null; sessions: number; share: number }[];
  avg_s: number;
  median_s: number;
  p90_s: number;
}

export async function durationReport(run: Runner, p: ReportParams): Promise<DurationData> {
  const r = (await run(durationQuery(p)))[0] ?? {};
  const sessions = num(r.sessions);
  return {
    sessions,
    buckets: DURATION_BUCKETS.map((b, i) => {
      const n = num(r[`b${i}`]);
      return { ...b, sessions: n, share: sessions === 0 ? 0 : n / sessions };
    }),
    avg_s: num(r.avg_s),
    median_s: num(r.median_s),
    p90_s: num(r.p90_s),
  };
}

export interface FrequencyData {
  visitors: number;
  sessions_per_visitor: { label: string; min: number; max: number | null; visitors: number }[];
  days_since_previous: {
    sessions: number;
    first_sessions: number;
    buckets: { label: string; min_days: number; max_days: number | null; sessions: number }[];
  };
  new_vs_returning: {
    interval: Interval;
    points: { bucket: string; visitors: number; new_visitors: number; returning_visitors: number }[];
  };
}

export async function frequencyReport(
  run: Runner,
  p: ReportParams,
  interval: Interval,
): Promise<FrequencyData> {
  const rows = await run(frequencyQuery(p, interval));
  const total = Object.fromEntries(
    FREQUENCY_TOTAL_COLUMNS.map((c) => [c, rows.reduce((sum, r) => sum + num(r[c]), 0)]),
  );
  const spv = SESSIONS_PER_VISITOR_BUCKETS.map((b, i) => ({ ...b, visitors: total[`spv_b${i}`] ?? 0 }));
  return {
    visitors: spv.reduce((sum, b) => sum + b.visitors, 0),
    sessions_per_visitor: spv,
    days_since_previous: {
      sessions: total.dsp_sessions ?? 0,
      first_sessions: total.dsp_first_sessions ?? 0,
      buckets: DAYS_SINCE_PREVIOUS_BUCKETS.map((b, i) => ({ ...b, sessions: total[`dsp_b${i}`] ?? 0 })),
    },
    new_vs_returning: {
      interval,
      points: rows.map((r) => ({
        bucket: String(r.bucket),
        visitors: num(r.visitors),
        new_visitors: num(r.new_visitors),
        returning_visitors: num(r.visitors) - num(r.new_visitors),
      })),
    },
  };
}

export interface RealtimeData {
  window_s: number;
  now: string;
  visitors: number;
  sessions: number;
  pageviews: number;
  top_pages: { path: string; visitors: number; pageviews: number }[];
}

export async function realtimeReport(run: Runner, p: RealtimeParams, limit = 10): Promise<RealtimeData> {
  const [totals, pages] = await Promise.all([run(realtimeQuery(p)), run(topPagesNowQuery(p, limit))]);
  const t = totals[0] ?? {};
  return {
    window_s: REALTIME_WINDOW_S,
    now: p.now.toISOString(),
    visitors: num(t.visitors),
    sessions: num(t.sessions),
    pageviews: num(t.pageviews),
    top_pages: pages.map((r) => ({
      path: String(r.path),
      visitors: num(r.visitors),
      pageviews: num(r.pageviews),
    })),
  };
}

/**
 * A small typed client of the Stint api (shapes mirror api/src/schemas.ts). Every request carries the
 * bearer token; a 401 becomes an AuthError so the dashboard can ask for a token again.
 */

import type { Interval } from './ranges.ts';
import type { FilterKey, Filters } from './state.ts';

export interface Metrics {
  visitors: number;
  sessions: number;
  pageviews: number;
  pages_per_session: number;
  bounces: number;
  bounce_rate: number;
  avg_duration_s: number;
  median_duration_s: number;
  engaged_sessions: number;
  engagement_rate: number;
  avg_engaged_time_s: number;
  events_per_session: number;
  sessions_per_visitor: number;
  new_visitors: number;
  returning_visitors: number;
  returning_visitor_share: number;
}

export interface Range {
  from: string;
  to: string;
}

export interface Report<T> {
  site: string;
  timezone: string;
  range: Range;
  data: T;
  previous?: { range: Range; data: T };
}

export interface TimeseriesData {
  interval: Interval;
  points: ({ bucket: string } & Metrics)[];
}

export interface BreakdownRow {
  key: string;
  visitors: number;
  sessions: number;
  pageviews: number;
  bounce_rate: number;
  avg_duration_s: number;
  engagement_rate: number;
}

export interface BreakdownData {
  by: string;
  rows: BreakdownRow[];
}

export interface DurationData {
  sessions: number;
  buckets: { label: string; min_s: number; max_s: number | null; sessions: number; share: number }[];
  avg_s: number;
  median_s: number;
  p90_s: number;
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

export interface RealtimeReport {
  site: string;
  timezone: string;
  data: {
    window_s: number;
    now: string;
    visitors: number;
    sessions: number;
    pageviews: number;
    top_pages: { path: string; visitors: number; pageviews: number }[];
  };
}

export class AuthError extends Error {}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Query {
  from?: string;
  to?: string;
  compare?: boolean;
  interval?: Interval;
  by?: string;
  limit?: number;
  filters?: Filters;
}

export function queryString(q: Query): string {
  const p = new URLSearchParams();
  if (q.from) p.set('from', q.from);
  if (q.to) p.set('to', q.to);
  if (q.compare) p.set('compare', 'previous');
  if (q.interval) p.set('interval', q.interval);
  if (q.by) p.set('by', q.by);
  if (q.limit !== undefined) p.set('limit', String(q.limit));
  for (const [k, v] of Object.entries(q.filters ?? {}) as [FilterKey, string | undefined][]) {
    if (v !== undefined) p.set(k, v);
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

export class StintApi {
  constructor(
    private readonly token: string,
    private readonly base = '',
  ) {}

  private async get<T>(site: string, report: string, q: Query, signal?: AbortSignal): Promise<T> {
    const res = await fetch(
      `${this.base}/api/v1/sites/${encodeURIComponent(site)}/${report}${queryString(q)}`,
      {
        headers: { authorization: `Bearer ${this.token}` },
        ...(signal ? { signal } : {}),
      },
    );
    if (res.status === 401) throw new AuthError('the token was refused');
    if (!res.ok) {
      let message = `${res.status} ${res.statusText}`;
      try {
        const body = (await res.json()) as { message?: string };
        if (body.message) message = body.message;
      } catch {
        // not JSON: keep the status line
      }
      throw new ApiError(res.status, message);
    }
    return (await res.json()) as T;
  }

  summary(site: string, q: Query, signal?: AbortSignal) {
    return this.get<Report<Metrics>>(site, 'summary', q, signal);
  }
  timeseries(site: string, q: Query, signal?: AbortSignal) {
    return this.get<Report<TimeseriesData>>(site, 'timeseries', q, signal);
  }
  breakdown(site: string, q: Query, signal?: AbortSignal) {
    return this.get<Report<BreakdownData>>(site, 'breakdown', q, signal);
  }
  duration(site: string, q: Query, signal?: AbortSignal) {
    return this.get<Report<DurationData>>(site, 'duration', q, signal);
  }
  frequency(site: string, q: Query, signal?: AbortSignal) {
    return this.get<Report<FrequencyData>>(site, 'frequency', q, signal);
  }
  realtime(site: string, q: Query, signal?: AbortSignal) {
    return this.get<RealtimeReport>(site, 'realtime', q, signal);
  }
}

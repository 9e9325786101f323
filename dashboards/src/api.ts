/**
 * A small typed client of the Stint api (shapes mirror api/src/schemas.ts and api/src/auth/routes.ts).
 * Reports are read either with the sign-in session (the HttpOnly cookie, sent by the browser) or with a
 * bearer token. A 401 becomes an AuthError so the dashboard can ask the user to sign in again.
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

/** The signed-in account (`GET /auth/me`, `POST /auth/login`). */
export interface Account {
  email: string;
  admin: boolean;
  sites: { site: string; role: string }[];
  /** Sent as X-Stint-CSRF on every POST; kept in memory only. */
  csrf_token: string;
  idle_expires_at: string;
  absolute_expires_at: string;
}

/** How report requests are authorised. */
export type Credentials =
  | { kind: 'token'; token: string }
  | {
      kind: 'session';
      /** After a 401: is the session still valid (then the report is retried once)? */
      recheck: () => Promise<boolean>;
    };

export type LoginResult =
  | { ok: true; account: Account }
  | { ok: false; status: 401 }
  | { ok: false; status: 429; retryAfterS: number }
  | { ok: false; status: number; message: string };

/** Seconds from a Retry-After header (seconds or an HTTP date); null when missing or unreadable. */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | null {
  if (header === null || header.trim() === '') return null;
  const v = header.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

/** What the sign-in form says for a failed sign-in. */
export function loginMessage(r: Exclude<LoginResult, { ok: true }>): string {
  if (r.status === 401) return 'Wrong e-mail or password.';
  if (r.status === 429) {
    const s = 'retryAfterS' in r ? r.retryAfterS : null;
    return s === null ? 'Too many attempts, retry later.' : `Too many attempts, retry in ${s} s.`;
  }
  return 'message' in r ? r.message : `Sign-in failed (${r.status}).`;
}

async function problem(res: Response): Promise<string> {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { message?: string };
    if (body.message) message = body.message;
  } catch {
    // not JSON: keep the status line
  }
  return message;
}

/** The signed-in account, or null when there is no valid session (401). */
export async function fetchAccount(base = ''): Promise<Account | null> {
  const res = await fetch(`${base}/auth/me`, { credentials: 'same-origin' });
  if (res.status === 401) return null;
  if (!res.ok) throw new ApiError(res.status, await problem(res));
  return (await res.json()) as Account;
}

export async function login(email: string, password: string, base = ''): Promise<LoginResult> {
  const res = await fetch(`${base}/auth/login`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (res.ok) return { ok: true, account: (await res.json()) as Account };
  if (res.status === 401) return { ok: false, status: 401 };
  if (res.status === 429) {
    const s = retryAfterSeconds(res.headers.get('retry-after'));
    return s === null
      ? { ok: false, status: 429, message: 'Too many attempts, retry later.' }
      : { ok: false, status: 429, retryAfterS: s };
  }
  return { ok: false, status: res.status, message: await problem(res) };
}

/** Ends the session server-side; the status (204 when done). */
export async function logout(csrfToken: string, base = ''): Promise<number> {
  const res = await fetch(`${base}/auth/logout`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'x-stint-csrf': csrfToken },
  });
  return res.status;
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

/** Per-request options: `background` marks the realtime poller (not user activity). */
export interface CallOptions {
  signal?: AbortSignal;
  background?: boolean;
}

export class StintApi {
  constructor(
    readonly credentials: Credentials,
    private readonly base = '',
  ) {}

  private async get<T>(site: string, report: string, q: Query, o: CallOptions = {}): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.credentials.kind === 'token') headers.authorization = `Bearer ${this.credentials.token}`;
    if (o.background) headers['x-stint-background'] = '1';
    const call = () =>
      fetch(`${this.base}/api/v1/sites/${encodeURIComponent(site)}/${report}${queryString(q)}`, {
        headers,
        credentials: 'same-origin',
        ...(o.signal ? { signal: o.signal } : {}),
      });
    let res = await call();
    if (res.status === 401 && this.credentials.kind === 'session' && (await this.credentials.recheck())) {
      res = await call();
    }
    if (res.status === 401) {
      throw new AuthError(this.credentials.kind === 'token' ? 'the token was refused' : 'not signed in');
    }
    if (!res.ok) throw new ApiError(res.status, await problem(res));
    return (await res.json()) as T;
  }

  summary(site: string, q: Query, o?: CallOptions) {
    return this.get<Report<Metrics>>(site, 'summary', q, o);
  }
  timeseries(site: string, q: Query, o?: CallOptions) {
    return this.get<Report<TimeseriesData>>(site, 'timeseries', q, o);
  }
  breakdown(site: string, q: Query, o?: CallOptions) {
    return this.get<Report<BreakdownData>>(site, 'breakdown', q, o);
  }
  duration(site: string, q: Query, o?: CallOptions) {
    return this.get<Report<DurationData>>(site, 'duration', q, o);
  }
  frequency(site: string, q: Query, o?: CallOptions) {
    return this.get<Report<FrequencyData>>(site, 'frequency', q, o);
  }
  realtime(site: string, q: Query, o?: CallOptions) {
    return this.get<RealtimeReport>(site, 'realtime', q, o);
  }
}

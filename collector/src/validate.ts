/**
 * Request validation beyond the contract's zod schemas: one error shape for every 4xx, naming the
 * field, and the checks a schema cannot express (well-formed Unicode, http(s) URLs, bounded ts).
 */
import type { z } from 'zod';

export interface ApiError {
  status: number;
  /** Machine-readable reason, also the `reason` label of the rejects metric. */
  error: string;
  message: string;
  field?: string;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; error: ApiError };

export function fail(
  status: number,
  error: string,
  message: string,
  field?: string,
): { ok: false; error: ApiError } {
  return {
    ok: false,
    error: field === undefined ? { status, error, message } : { status, error, message, field },
  };
}

export function parseWith<S extends z.ZodType>(schema: S, input: unknown, prefix = ''): Checked<z.infer<S>> {
  const r = schema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = [prefix, ...(issue?.path ?? []).map(String)].filter((p) => p !== '').join('.');
    return fail(
      400,
      'invalid_field',
      `${field || 'body'}: ${issue?.message ?? 'invalid'}`,
      field || undefined,
    );
  }
  // The common case is checked without building a field path per value (a batch has thousands).
  if (!wellFormed(r.data)) {
    const bad = illFormed(r.data, prefix) ?? (prefix || 'body');
    return fail(400, 'invalid_unicode', `${bad}: contains an unpaired surrogate`, bad);
  }
  return { ok: true, value: r.data };
}

/** Every string and key is well-formed UTF-16 (no lone surrogate). */
function wellFormed(value: unknown): boolean {
  if (typeof value === 'string') return value.isWellFormed();
  if (value === null || typeof value !== 'object') return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!wellFormed(value[i])) return false;
    return true;
  }
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    if (!k.isWellFormed() || !wellFormed((value as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/** Path of the first string (or key) with a lone UTF-16 surrogate: it cannot be stored as UTF-8. */
function illFormed(value: unknown, path: string): string | null {
  if (typeof value === 'string') return value.isWellFormed() ? null : path;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = illFormed(value[i], path === '' ? String(i) : `${path}.${i}`);
      if (p !== null) return p;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const p = path === '' ? k : `${path}.${k}`;
      if (!k.isWellFormed()) return p;
      const inner = illFormed(v, p);
      if (inner !== null) return inner;
    }
  }
  return null;
}

/** An http(s) page URL, parsed (enrichment reuses it instead of parsing again), or null. */
export function parsePageUrl(url: string): URL | null {
  try {
    const u = new URL(url);
    if (u.protocol === 'http:' || u.protocol === 'https:') return u;
  } catch {
    // fall through
  }
  return null;
}

export function pageUrlError(field: string): ApiError {
  return { status: 400, error: 'invalid_field', message: `${field}: must be an http(s) URL`, field };
}

export function checkPageUrl(url: string, field: string): Checked<URL> {
  const u = parsePageUrl(url);
  return u === null ? { ok: false, error: pageUrlError(field) } : { ok: true, value: u };
}

/** ClickHouse's DateTime starts at the epoch: an earlier time cannot be stored. */
const EARLIEST_MS = 0;

/**
 * ts of the batch and import endpoints: ISO 8601 or epoch ms, not in the future beyond a small skew,
 * not older than `maxAgeMs` (Infinity: no lower bound but the epoch).
 */
export function checkTimestamp(
  ts: string | number | undefined,
  now: number,
  limits: { maxFutureMs: number; maxAgeMs: number },
  field: string,
): Checked<number> {
  if (ts === undefined) return { ok: true, value: now };
  const ms = typeof ts === 'number' ? ts : Date.parse(ts);
  if (!Number.isFinite(ms)) return fail(400, 'invalid_field', `${field}: not a time`, field);
  if (ms > now + limits.maxFutureMs) return fail(400, 'ts_in_future', `${field}: lies in the future`, field);
  if (ms < EARLIEST_MS) {
    return fail(400, 'ts_too_old', `${field}: lies before 1970-01-01, which cannot be stored`, field);
  }
  if (ms < now - limits.maxAgeMs) {
    const days = Math.round(limits.maxAgeMs / 86_400_000);
    return fail(400, 'ts_too_old', `${field}: older than the accepted ${days} days`, field);
  }
  return { ok: true, value: ms };
}

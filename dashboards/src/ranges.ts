/**
 * Time-range presets. "Today" is the server's today in the site's time zone (taken from the realtime
 * report's `now`), not the browser's, so a dashboard opened from another zone shows the site's days.
 * The api reads date-only `from`/`to` as whole local days with `to` inclusive.
 */
import type { Preset } from './state.ts';

export type Interval = 'hour' | 'day' | 'week' | 'month';

export interface DateRange {
  from: string;
  to: string;
  interval: Interval;
}

const DAY_MS = 86_400_000;

/** The local calendar date (YYYY-MM-DD) of an instant in `tz`. */
export function localDate(ms: number, tz: string): string {
  // en-CA formats dates as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: tz,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(new Date(ms));
}

export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** Days from `from` to `to`, both included. */
export function spanDays(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS) + 1;
}

/** A bucket size that gives a readable number of points for the span. */
export function intervalFor(days: number): Interval {
  if (days <= 2) return 'hour';
  if (days <= 92) return 'day';
  if (days <= 730) return 'week';
  return 'month';
}

export function resolvePreset(
  preset: Preset,
  today: string,
  custom: { from: string; to: string },
): DateRange {
  let from: string;
  let to = today;
  switch (preset) {
    case 'today':
      from = today;
      break;
    case '7d':
      from = addDays(today, -6);
      break;
    case '30d':
      from = addDays(today, -29);
      break;
    case 'custom':
      from = custom.from || addDays(today, -6);
      to = custom.to || today;
      if (from > to) [from, to] = [to, from];
      break;
  }
  return { from, to, interval: intervalFor(spanDays(from, to)) };
}

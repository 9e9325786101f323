/**
 * Time ranges in a site's time zone. Reports take `from`/`to` as local dates (`2024-03-01`: whole days in
 * the site's zone, `to` inclusive) or as datetimes (`2024-03-01T10:00` local, or with `Z`/an offset;
 * `to` exclusive). Everything past this module works on UTC instants: the half-open `[from, to)`.
 */

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:?\d{2})?$/;
const DAY_MS = 86_400_000;

export interface LocalDate {
  y: number;
  m: number;
  d: number;
}

/** A parsed `from`/`to` value. */
export type TimeInput =
  | { kind: 'date'; date: LocalDate }
  | { kind: 'local'; date: LocalDate; h: number; mi: number; s: number }
  | { kind: 'instant'; ms: number };

function validDate(y: number, m: number, d: number): boolean {
  const t = new Date(Date.UTC(y, m - 1, d));
  return (
    t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d && y >= 1971 && y <= 2105
  );
}

/** Parses `YYYY-MM-DD` or `YYYY-MM-DDThh:mm[:ss][Z|±hh:mm]`; null when it is neither. */
export function parseTimeInput(text: string): TimeInput | null {
  const dm = DATE.exec(text);
  if (dm) {
    const date = { y: Number(dm[1]), m: Number(dm[2]), d: Number(dm[3]) };
    return validDate(date.y, date.m, date.d) ? { kind: 'date', date } : null;
  }
  const m = DATETIME.exec(text);
  if (!m) return null;
  const date = { y: Number(m[1]), m: Number(m[2]), d: Number(m[3]) };
  const h = Number(m[4]);
  const mi = Number(m[5]);
  const s = Number(m[6] ?? '0');
  if (!validDate(date.y, date.m, date.d) || h > 23 || mi > 59 || s > 59) return null;
  const zone = m[7];
  if (zone === undefined) return { kind: 'local', date, h, mi, s };
  const base = Date.UTC(date.y, date.m - 1, date.d, h, mi, s);
  if (zone === 'Z') return { kind: 'instant', ms: base };
  const zm = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
  if (!zm) return null;
  const offsetMin = (Number(zm[2]) * 60 + Number(zm[3])) * (zm[1] === '-' ? -1 : 1);
  if (Math.abs(offsetMin) > 14 * 60) return null;
  return { kind: 'instant', ms: base - offsetMin * 60_000 };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** The wall-clock fields of an instant in `tz`. */
export function wallClock(ms: number, tz: string): LocalDate & { h: number; mi: number; s: number } {
  const parts: Record<string, number> = {};
  for (const p of formatter(tz).formatToParts(new Date(ms))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return {
    y: parts.year ?? 0,
    m: parts.month ?? 0,
    d: parts.day ?? 0,
    h: parts.hour ?? 0,
    mi: parts.minute ?? 0,
    s: parts.second ?? 0,
  };
}

function offsetMs(ms: number, tz: string): number {
  const w = wallClock(ms, tz);
  return Date.UTC(w.y, w.m - 1, w.d, w.h, w.mi, w.s) - Math.floor(ms / 1000) * 1000;
}

/**
 * The instant at which the wall clock in `tz` shows the given local time. In a DST gap the clock jumps
 * over the time; the instant after the gap is used (as ClickHouse and most calendars do).
 */
export function localToUtc(date: LocalDate, h: number, mi: number, s: number, tz: string): number {
  const asUtc = Date.UTC(date.y, date.m - 1, date.d, h, mi, s);
  let guess = asUtc - offsetMs(asUtc, tz);
  const second = asUtc - offsetMs(guess, tz);
  if (second !== guess) guess = Math.max(guess, second);
  return guess;
}

export function addDays(date: LocalDate, days: number): LocalDate {
  const t = new Date(Date.UTC(date.y, date.m - 1, date.d) + days * DAY_MS);
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() };
}

function dayNumber(date: LocalDate): number {
  return Date.UTC(date.y, date.m - 1, date.d) / DAY_MS;
}

export interface ResolvedRange {
  /** Inclusive UTC start. */
  from: Date;
  /** Exclusive UTC end. */
  to: Date;
}

export interface RangeWithPrevious extends ResolvedRange {
  previous: ResolvedRange;
}

function instantOf(input: TimeInput, tz: string, endOfDay: boolean): number {
  if (input.kind === 'instant') return input.ms;
  if (input.kind === 'local') return localToUtc(input.date, input.h, input.mi, input.s, tz);
  return localToUtc(endOfDay ? addDays(input.date, 1) : input.date, 0, 0, 0, tz);
}

/**
 * Resolves `from`/`to` in `tz` (a date `to` covers that whole day) and the previous period of the same
 * length just before it: the same number of whole local days when both ends are dates, else the same
 * number of seconds. Defaults: the last 7 local days, today included.
 */
export function resolveRange(
  input: { from?: TimeInput | undefined; to?: TimeInput | undefined },
  tz: string,
  nowMs: number,
): RangeWithPrevious {
  const today = wallClock(nowMs, tz);
  const to: TimeInput = input.to ?? { kind: 'date', date: { y: today.y, m: today.m, d: today.d } };
  const from: TimeInput = input.from ?? {
    kind: 'date',
    date: addDays(to.kind === 'instant' ? wallClock(to.ms - 1, tz) : to.date, -6),
  };
  const fromMs = instantOf(from, tz, false);
  const toMs = instantOf(to, tz, true);
  let previous: ResolvedRange;
  if (from.kind === 'date' && to.kind === 'date') {
    const days = dayNumber(to.date) - dayNumber(from.date) + 1;
    previous = {
      from: new Date(localToUtc(addDays(from.date, -days), 0, 0, 0, tz)),
      to: new Date(fromMs),
    };
  } else {
    previous = { from: new Date(fromMs - (toMs - fromMs)), to: new Date(fromMs) };
  }
  return { from: new Date(fromMs), to: new Date(toMs), previous };
}

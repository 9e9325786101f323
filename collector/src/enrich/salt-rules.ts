/**
 * The rules of the shared salt store, free of I/O (shared-salts.ts does the reading and writing):
 * which days are kept, which candidate wins a day, what is expired.
 *
 * Every collector of an install reads the same candidates from ClickHouse and applies `winner`, so
 * they agree without talking to each other: the candidate with the smallest `created_ms` wins, and
 * among equal times the smallest value. The oldest candidate wins (not simply the smallest value) so
 * that a salt already in use for a while is not replaced by one proposed later by a collector that
 * came up during a race; the value only breaks ties.
 */
import { DAY_MS, previousDay, utcDay } from './visitor-id.ts';

export const HEX32 = /^[0-9a-f]{64}$/;
export const DAY = /^\d{4}-\d{2}-\d{2}$/;

export interface Candidate {
  /** The UTC day of a salt (YYYY-MM-DD); '' for the install secret. */
  day: string;
  /** 32 bytes, hex. */
  value: string;
  /** When the candidate was proposed (ms since epoch); 0 for values carried over from before the shared store. */
  created_ms: number;
}

export interface KeptDays {
  /** Still needed: every event carries its id under yesterday's salt too (prev_visitor_id). */
  yesterday: string;
  today: string;
  /** Proposed a day ahead, so the winner is settled long before midnight and rotation is no race. */
  tomorrow: string;
}

export function keptDays(nowMs: number): KeptDays {
  const today = utcDay(nowMs);
  return { yesterday: previousDay(today), today, tomorrow: utcDay(nowMs + DAY_MS) };
}

/** A day whose salt must be gone: older than yesterday. */
export function isExpired(day: string, nowMs: number): boolean {
  return day < keptDays(nowMs).yesterday;
}

/** The days a collector proposes a salt for when none is known: today and tomorrow. */
export function daysToPropose(known: ReadonlySet<string>, nowMs: number): string[] {
  const { today, tomorrow } = keptDays(nowMs);
  return [today, tomorrow].filter((d) => !known.has(d));
}

/** The deterministic pick among the candidates of one day (or of the secret). */
export function winner<T extends Candidate>(candidates: readonly T[]): T | null {
  let best: T | null = null;
  for (const c of candidates) {
    if (
      best === null ||
      c.created_ms < best.created_ms ||
      (c.created_ms === best.created_ms && c.value < best.value)
    ) {
      best = c;
    }
  }
  return best;
}

/** The winning salt of every day that is not expired, by day. */
export function winnersByDay(candidates: readonly Candidate[], nowMs: number): Map<string, Candidate> {
  const byDay = new Map<string, Candidate[]>();
  for (const c of candidates) {
    if (c.day === '' || isExpired(c.day, nowMs) || !HEX32.test(c.value)) continue;
    const list = byDay.get(c.day) ?? [];
    list.push(c);
    byDay.set(c.day, list);
  }
  const out = new Map<string, Candidate>();
  for (const [day, list] of [...byDay].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const w = winner(list);
    if (w) out.set(day, w);
  }
  return out;
}

/**
 * The local candidates still worth inserting: those not expired whose value is not stored yet
 * (re-inserting a stored one would only grow the table; it cannot change the winner).
 */
export function unsent(
  local: readonly Candidate[],
  stored: readonly Candidate[],
  nowMs: number,
): Candidate[] {
  const have = new Set(stored.map((c) => `${c.day}|${c.value}`));
  return local.filter((c) => (c.day === '' || !isExpired(c.day, nowMs)) && !have.has(`${c.day}|${c.value}`));
}

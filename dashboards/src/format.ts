/** Number formatting for panels: counts, rates, durations, and the change against the previous period. */

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const dec = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
const pct = new Intl.NumberFormat('en-US', { style: 'percent', maximumFractionDigits: 1 });

export type Unit = 'count' | 'decimal' | 'rate' | 'seconds';

export function formatCount(n: number): string {
  return int.format(n);
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function formatValue(n: number, unit: Unit): string {
  switch (unit) {
    case 'count':
      return int.format(n);
    case 'decimal':
      return dec.format(n);
    case 'rate':
      return pct.format(n);
    case 'seconds':
      return formatDuration(n);
  }
}

export interface Change {
  text: string;
  /** up / down / flat, before judging good or bad. */
  direction: 'up' | 'down' | 'flat';
}

/**
 * The change from the previous period: relative for counts and durations, in percentage points for
 * rates (a bounce rate going from 40 % to 50 % is "+10 pp", not "+25 %"). Null when nothing compares.
 */
export function formatChange(current: number, previous: number, unit: Unit): Change | null {
  if (unit === 'rate') {
    const pp = (current - previous) * 100;
    const direction = Math.abs(pp) < 0.05 ? 'flat' : pp > 0 ? 'up' : 'down';
    return { text: `${pp > 0 ? '+' : ''}${dec.format(Math.round(pp * 10) / 10)} pp`, direction };
  }
  if (previous === 0) return current === 0 ? { text: '0%', direction: 'flat' } : null;
  const rel = (current - previous) / previous;
  const direction = Math.abs(rel) < 0.0005 ? 'flat' : rel > 0 ? 'up' : 'down';
  return { text: `${rel > 0 ? '+' : ''}${pct.format(rel)}`, direction };
}

import { describe, expect, it } from 'vitest';
import { localToUtc, parseTimeInput, resolveRange } from '../src/time.ts';

const NOW = Date.UTC(2024, 2, 12, 15, 0, 0);
const iso = (d: Date) => d.toISOString();

describe('time ranges in the site time zone', () => {
  it('a date range covers whole local days, the end day included', () => {
    const r = resolveRange(
      { from: parseTimeInput('2024-03-08') ?? undefined, to: parseTimeInput('2024-03-12') ?? undefined },
      'America/New_York',
      NOW,
    );
    expect([iso(r.from), iso(r.to)]).toEqual(['2024-03-08T05:00:00.000Z', '2024-03-13T04:00:00.000Z']);
    expect([iso(r.previous.from), iso(r.previous.to)]).toEqual([
      '2024-03-03T05:00:00.000Z',
      '2024-03-08T05:00:00.000Z',
    ]);
  });

  it('a datetime with an offset is an instant; one without is local time; the previous period has the same length', () => {
    const r = resolveRange(
      {
        from: parseTimeInput('2024-03-08T10:00') ?? undefined,
        to: parseTimeInput('2024-03-08T12:30:00Z') ?? undefined,
      },
      'Europe/Berlin',
      NOW,
    );
    expect([iso(r.from), iso(r.to)]).toEqual(['2024-03-08T09:00:00.000Z', '2024-03-08T12:30:00.000Z']);
    expect(iso(r.previous.from)).toBe('2024-03-08T05:30:00.000Z');
    expect(parseTimeInput('2024-03-08T10:00+05:30')).toEqual({
      kind: 'instant',
      ms: Date.UTC(2024, 2, 8, 4, 30),
    });
  });

  it('defaults to the last 7 local days, today included (in Tokyo it is already the 13th)', () => {
    const r = resolveRange({}, 'Asia/Tokyo', NOW);
    expect([iso(r.from), iso(r.to)]).toEqual(['2024-03-06T15:00:00.000Z', '2024-03-13T15:00:00.000Z']);
  });

  it('a local time inside a DST gap maps to the instant after the gap', () => {
    expect(new Date(localToUtc({ y: 2024, m: 3, d: 10 }, 2, 30, 0, 'America/New_York')).toISOString()).toBe(
      '2024-03-10T07:30:00.000Z',
    );
    expect(new Date(localToUtc({ y: 2024, m: 11, d: 3 }, 0, 0, 0, 'America/New_York')).toISOString()).toBe(
      '2024-11-03T04:00:00.000Z',
    );
  });

  it('rejects what is not a real date or time', () => {
    for (const bad of [
      '2024-02-30',
      '2024-13-01',
      '2024-03-01T24:00',
      'today',
      '2024-03-01T10:00+15:00',
      "2024-03-01' OR 1",
    ]) {
      expect(parseTimeInput(bad), bad).toBeNull();
    }
  });
});

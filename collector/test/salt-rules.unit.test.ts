import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Candidate,
  daysToPropose,
  isExpired,
  keptDays,
  unsent,
  winner,
  winnersByDay,
} from '../src/enrich/salt-rules.ts';

const at = (iso: string) => Date.parse(iso);
const v = (c: string) => c.repeat(64);

describe('which days are kept', () => {
  it('keeps yesterday, today and tomorrow in UTC, and nothing older', () => {
    const t = at('2025-03-01T00:30:00Z');
    expect(keptDays(t)).toEqual({ yesterday: '2025-02-28', today: '2025-03-01', tomorrow: '2025-03-02' });
    expect(isExpired('2025-02-28', t)).toBe(false);
    expect(isExpired('2025-02-27', t)).toBe(true);
    expect(isExpired('2025-03-02', t)).toBe(false);
    // The last millisecond of a day still counts as that day.
    expect(keptDays(at('2025-12-31T23:59:59.999Z')).tomorrow).toBe('2026-01-01');
  });

  it('proposes only the days that have no candidate, today and tomorrow', () => {
    const t = at('2025-03-10T12:00:00Z');
    expect(daysToPropose(new Set(), t)).toEqual(['2025-03-10', '2025-03-11']);
    expect(daysToPropose(new Set(['2025-03-09', '2025-03-10']), t)).toEqual(['2025-03-11']);
    expect(daysToPropose(new Set(['2025-03-10', '2025-03-11']), t)).toEqual([]);
  });
});

describe('which candidate wins', () => {
  it('takes the oldest candidate, ties broken by the smaller value', () => {
    const a = { day: 'd', value: v('b'), created_ms: 10 };
    const b = { day: 'd', value: v('a'), created_ms: 20 };
    const c = { day: 'd', value: v('0'), created_ms: 20 };
    expect(winner([a, b, c])).toBe(a);
    expect(winner([b, c])).toBe(c);
    expect(winner([])).toBeNull();
  });

  it('is the same whatever order the collectors read the candidates in', () => {
    const candidate = fc.record({
      day: fc.constant('2025-03-10'),
      value: fc.stringMatching(/^[0-9a-f]{64}$/),
      created_ms: fc.integer({ min: 0, max: 5 }),
    });
    const listAndShuffled = fc
      .array(candidate, { minLength: 1, maxLength: 8 })
      .chain((list) =>
        fc.tuple(
          fc.constant(list),
          fc.shuffledSubarray(list, { minLength: list.length, maxLength: list.length }),
        ),
      );
    fc.assert(
      fc.property(listAndShuffled, ([list, shuffled]) => {
        const w1 = winner(list);
        const w2 = winner(shuffled);
        expect(w2?.value).toBe(w1?.value);
        expect(w2?.created_ms).toBe(w1?.created_ms);
        for (const c of list) expect((w1 as Candidate).created_ms).toBeLessThanOrEqual(c.created_ms);
      }),
    );
  });

  it('picks one winner per kept day and ignores expired days, the secret and malformed values', () => {
    const t = at('2025-03-10T12:00:00Z');
    const list: Candidate[] = [
      { day: '2025-03-08', value: v('1'), created_ms: 1 },
      { day: '2025-03-09', value: v('2'), created_ms: 5 },
      { day: '2025-03-09', value: v('3'), created_ms: 4 },
      { day: '2025-03-10', value: 'not hex', created_ms: 0 },
      { day: '2025-03-10', value: v('4'), created_ms: 9 },
      { day: '', value: v('5'), created_ms: 0 },
    ];
    const w = winnersByDay(list, t);
    expect([...w.keys()]).toEqual(['2025-03-09', '2025-03-10']);
    expect(w.get('2025-03-09')?.value).toBe(v('3'));
    expect(w.get('2025-03-10')?.value).toBe(v('4'));
  });

  it('sends only local candidates that are neither stored nor expired', () => {
    const t = at('2025-03-10T12:00:00Z');
    const stored = [{ day: '2025-03-10', value: v('a'), created_ms: 1 }];
    const local = [
      { day: '2025-03-10', value: v('a'), created_ms: 7 },
      { day: '2025-03-10', value: v('b'), created_ms: 7 },
      { day: '2025-03-01', value: v('c'), created_ms: 7 },
      { day: '', value: v('d'), created_ms: 0 },
    ];
    expect(unsent(local, stored, t).map((c) => c.value)).toEqual([v('b'), v('d')]);
  });
});

/** Which months may skip FINAL (only a single merged part), and what changes a fingerprint. */
import { describe, expect, it } from 'vitest';
import { listingOf } from '../src/partitions.ts';

const part = (table: string, partition: string, name: string, level: number) => ({
  table,
  partition,
  name,
  level,
});

describe('clean partitions', () => {
  it('a month is clean only when its one active part came out of a merge', () => {
    const l = listingOf([
      part('sessions_raw', '202401', '202401_1_9_2', 2),
      part('sessions_raw', '202402', '202402_10_10_0', 0), // a single insert may hold duplicates
      part('sessions_raw', '202403', '202403_11_20_1', 1),
      part('sessions_raw', '202403', '202403_21_21_0', 0), // a second part: versions may be split
      part('events_raw', '202401', '202401_3_8_1', 1),
      part('events_raw', '202403', '202403_1_1_0', 0),
    ]);
    expect(l.clean).toEqual({ sessions: ['202401_1_9_2'], events: ['202401_3_8_1'] });
  });

  it('a merged month with a few newer parts is amended: its merged part is read without FINAL but for the ids they rewrote', () => {
    const rows = (r: ReturnType<typeof part>, n: number) => ({ ...r, rows: n });
    const l = listingOf([
      rows(part('sessions_raw', '202401', '202401_1_9_2', 2), 1000),
      rows(part('sessions_raw', '202401', '202401_10_10_0', 0), 60),
      rows(part('sessions_raw', '202401', '202401_11_11_0', 0), 40),
      // Too much written since the merge: FINAL.
      rows(part('sessions_raw', '202402', '202402_12_20_1', 1), 1000),
      rows(part('sessions_raw', '202402', '202402_21_21_0', 0), 101),
      // The largest part is not a merge: FINAL.
      rows(part('sessions_raw', '202403', '202403_22_22_0', 0), 1000),
      rows(part('sessions_raw', '202403', '202403_23_23_0', 0), 1),
      // Events are never amended.
      rows(part('events_raw', '202401', '202401_1_9_2', 2), 1000),
      rows(part('events_raw', '202401', '202401_10_10_0', 0), 1),
    ]);
    expect(l.clean).toEqual({
      sessions: [],
      events: [],
      sessionsAmended: { merged: ['202401_1_9_2'], newer: ['202401_10_10_0', '202401_11_11_0'] },
    });
  });

  it('the first-seen rollup is read ungrouped only when the whole table is one merged part', () => {
    const rollup = (name: string, level: number) => part('visitor_first_seen', 'tuple()', name, level);
    expect(listingOf([rollup('all_1_5_1', 1)]).clean.firstSeen).toBe('all_1_5_1');
    expect(listingOf([rollup('all_1_1_0', 0)]).clean.firstSeen).toBeUndefined(); // one insert: not merged
    expect(listingOf([rollup('all_1_5_1', 1), rollup('all_6_6_0', 0)]).clean.firstSeen).toBeUndefined();
    expect(listingOf([part('visitor_sessions', 'tuple()', 'all_1_5_1', 1)]).clean.firstSeen).toBeUndefined();
  });

  it('any new part changes the token and the fingerprint of its table only', () => {
    const ev = part('events_raw', '202401', '202401_3_8_1', 1);
    const a = [part('sessions_raw', '202401', '202401_1_9_2', 2), ev];
    const b = [...a, part('sessions_raw', '202401', '202401_10_10_0', 0)];
    const c = [part('sessions_raw', '202401', '202401_1_10_3', 3), ev];
    const all = [a, b, c].map((rows) => listingOf(rows));
    expect(new Set(all.map((l) => l.token)).size).toBe(3);
    expect(new Set(all.map((l) => l.fingerprint(['sessions_raw']))).size).toBe(3);
    expect(new Set(all.map((l) => l.fingerprint(['events_raw']))).size).toBe(1);
    // A table created again restarts its part names: size and time still tell the data apart.
    const again = listingOf([{ ...ev, rows: 5, bytes: 100, mtime: 2 }]);
    expect(again.fingerprint(['events_raw'])).not.toBe(
      listingOf([{ ...ev, rows: 6, bytes: 100, mtime: 2 }]).fingerprint(['events_raw']),
    );
  });
});

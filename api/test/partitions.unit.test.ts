/**
 * Which months may skip FINAL (only a single merged part), and the after-check that falls back to
 * FINAL everywhere when the parts changed while a report ran.
 */
import { describe, expect, it } from 'vitest';
import { listingOf, type PartsListing, withCleanPartitions } from '../src/partitions.ts';

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
    expect(l.clean).toEqual({ sessions: [202401], events: [202401] });
  });

  it('any new part changes the token', () => {
    const a = [part('sessions_raw', '202401', '202401_1_9_2', 2)];
    const b = [...a, part('sessions_raw', '202401', '202401_10_10_0', 0)];
    const c = [part('sessions_raw', '202401', '202401_1_10_3', 3)];
    const tokens = new Set([listingOf(a).token, listingOf(b).token, listingOf(c).token]);
    expect(tokens.size).toBe(3);
  });

  it('keeps the result when the parts are the same after the report', async () => {
    const l = listingOf([part('sessions_raw', '202401', '202401_1_9_2', 2)]);
    const seen: unknown[] = [];
    const out = await withCleanPartitions(
      async () => l,
      async (clean) => {
        seen.push(clean);
        return 'fast';
      },
    );
    expect(out).toBe('fast');
    expect(seen).toEqual([{ sessions: [202401], events: [] }]);
  });

  it('runs the report again with FINAL everywhere when a part came or went meanwhile', async () => {
    const listings: PartsListing[] = [
      listingOf([part('sessions_raw', '202401', '202401_1_9_2', 2)]),
      listingOf([
        part('sessions_raw', '202401', '202401_1_9_2', 2),
        part('sessions_raw', '202401', '202401_10_10_0', 0),
      ]),
    ];
    let i = 0;
    const seen: unknown[] = [];
    const out = await withCleanPartitions(
      async () => listings[Math.min(i++, 1)] as PartsListing,
      async (clean) => {
        seen.push(clean);
        return clean === undefined ? 'final' : 'fast';
      },
    );
    expect(out).toBe('final');
    expect(seen).toEqual([{ sessions: [202401], events: [] }, undefined]);
  });
});

import { describe, expect, it } from 'vitest';
import { commitMetadata, parseCommitMetadata } from '../src/sessionizer.ts';

describe('commit metadata', () => {
  it('carries the watermark inputs and how far rows were written through a round trip', () => {
    const text = commitMetadata({ maxTs: 1000, sites: new Map([['a.example', 900]]), written: 42 });
    expect(parseCommitMetadata(text)).toEqual({ maxTs: 1000, sites: { 'a.example': 900 }, written: 42 });
  });

  it('reads the metadata of earlier versions (one watermark per partition) and an empty start', () => {
    expect(parseCommitMetadata('{"maxTs":5}')).toEqual({ maxTs: 5, sites: {}, written: 0 });
    const empty = commitMetadata({ maxTs: Number.NEGATIVE_INFINITY, sites: new Map(), written: 0 });
    expect(parseCommitMetadata(empty)).toEqual({ maxTs: null, sites: {}, written: 0 });
  });

  it('stays under the broker limit by leaving out the sites with the oldest times', () => {
    const sites = new Map(
      Array.from({ length: 500 }, (_, i) => [`site-${i}.example`, 1_000_000 + i] as const),
    );
    const text = commitMetadata({ maxTs: 2_000_000, sites, written: 123_456_789 });
    expect(text.length).toBeLessThanOrEqual(4000);
    const kept = parseCommitMetadata(text).sites;
    expect(Object.keys(kept).length).toBeGreaterThan(50);
    expect(kept['site-499.example']).toBe(1_000_499);
    expect(kept['site-0.example']).toBeUndefined();
    expect(parseCommitMetadata(text).written).toBe(123_456_789);
  });
});

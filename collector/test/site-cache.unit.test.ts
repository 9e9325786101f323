import { describe, expect, it } from 'vitest';
import { cachedPredicate, LookupUnavailableError } from '../src/site-cache.ts';

describe('registry cache when ClickHouse is unreachable', () => {
  it('keeps a known site working past its TTL and refuses to guess an unknown one', async () => {
    let t = 0;
    let up = true;
    const lookup = async (site: string) => {
      if (!up) throw new Error('connect ECONNREFUSED');
      return site === 'known.example';
    };
    const exists = cachedPredicate(lookup, (s: string) => s, {
      ttlMs: 1000,
      negativeTtlMs: 100,
      now: () => t,
    });
    expect(await exists('known.example')).toBe(true);
    expect(await exists('other.example')).toBe(false);
    up = false;
    t = 5000;
    expect(await exists('known.example')).toBe(true);
    await expect(exists('other.example')).rejects.toBeInstanceOf(LookupUnavailableError);
    await expect(exists('never-seen.example')).rejects.toBeInstanceOf(LookupUnavailableError);
    up = true;
    expect(await exists('other.example')).toBe(false);
  });
});

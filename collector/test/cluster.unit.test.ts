import { describe, expect, it } from 'vitest';
import { workerRateLimit } from '../src/cluster.ts';

describe('the rate limit of a cluster worker', () => {
  it('is the configured limit split between the workers, at least 1, together never above the whole', () => {
    expect(workerRateLimit(600, 1)).toBe(600);
    expect(workerRateLimit(600, 4)).toBe(150);
    // Rounded down: a client spread over all workers never gets more than configured.
    expect(workerRateLimit(601, 3)).toBe(200);
    expect(workerRateLimit(2, 8)).toBe(1);
    expect(workerRateLimit(600, 0)).toBe(600);
  });
});

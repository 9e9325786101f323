/**
 * What the pipeline needs of a salt store. The collector's store is shared-salts.ts (salts shared by
 * every collector through ClickHouse, with the local salt file as a cache); the in-memory one below
 * serves tests and throwaway runs.
 *
 * Rotation is lazy: the first event of a new UTC day forgets the salts older than yesterday.
 */
import { randomBytes } from 'node:crypto';
import { previousDay, type SaltSource, utcDay } from './visitor-id.ts';

export interface SaltStore extends SaltSource {
  /** The install secret (stable partitions, historical ids). */
  readonly secret: Buffer;
  /** Days whose salts are currently kept, oldest first. */
  days(): string[];
}

/** An in-memory store for tests and throwaway runs. */
export function createMemorySaltStore(
  secret: Buffer = randomBytes(32),
  now: () => number = Date.now,
): SaltStore {
  const salts = new Map<string, Buffer>();
  return {
    secret,
    saltFor(day) {
      const today = utcDay(now());
      for (const d of [...salts.keys()]) if (d !== today && d !== previousDay(today)) salts.delete(d);
      if (!salts.has(today)) salts.set(today, randomBytes(32));
      return salts.get(day) ?? null;
    },
    days() {
      return [...salts.keys()].sort();
    },
  };
}

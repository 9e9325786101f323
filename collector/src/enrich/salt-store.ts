/**
 * Where the daily salts and the install secret live: one JSON file under the data directory
 * (`<STINT_DATA_DIR>/collector/salts.json`, mode 0600, replaced atomically by rename).
 *
 * Why a file and not a ClickHouse table: salts must be read synchronously on every cookieless event,
 * must exist before ClickHouse is reachable, and deleting them must really delete them (a
 * ReplacingMergeTree keeps old parts until a merge; ClickHouse 18.16 has no TTL). A single collector
 * per data directory is the deployment this supports; several collectors behind a balancer need a
 * shared store (the `SaltSource` interface is the seam for one) or sticky routing by client IP.
 *
 * Rotation is lazy: the first event of a new UTC day creates its salt; on every change the file is
 * rewritten with only today's and yesterday's salts, so older ones are gone from disk at once.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { previousDay, type SaltSource, utcDay } from './visitor-id.ts';

const FileSchema = z.object({
  secret: z.string().regex(/^[0-9a-f]{64}$/),
  salts: z.record(z.string().regex(/^\d{4}-\d{2}-\d{2}$/), z.string().regex(/^[0-9a-f]{64}$/)),
});

export interface SaltStore extends SaltSource {
  /** The install secret (stable partitions, historical ids). Created with the file. */
  readonly secret: Buffer;
  /** Days whose salts are currently kept, oldest first. */
  days(): string[];
}

export function createFileSaltStore(path: string, now: () => number = Date.now): SaltStore {
  let secret: Buffer;
  const salts = new Map<string, Buffer>();
  try {
    const data = FileSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
    secret = Buffer.from(data.secret, 'hex');
    for (const [day, salt] of Object.entries(data.salts)) salts.set(day, Buffer.from(salt, 'hex'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`salt file ${path} is unreadable; fix or remove it: ${(err as Error).message}`);
    }
    secret = randomBytes(32);
  }

  const persist = () => {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    const body = {
      secret: secret.toString('hex'),
      salts: Object.fromEntries([...salts].map(([d, s]) => [d, s.toString('hex')])),
    };
    writeFileSync(tmp, JSON.stringify(body), { mode: 0o600 });
    renameSync(tmp, path);
  };

  /** Keeps today and yesterday, makes today's salt; true when something changed. */
  const rotate = (): boolean => {
    const today = utcDay(now());
    const yesterday = previousDay(today);
    let changed = false;
    for (const day of [...salts.keys()]) {
      if (day !== today && day !== yesterday) {
        salts.get(day)?.fill(0);
        salts.delete(day);
        changed = true;
      }
    }
    if (!salts.has(today)) {
      salts.set(today, randomBytes(32));
      changed = true;
    }
    return changed;
  };

  rotate();
  persist();
  let checkedDay = utcDay(now());

  return {
    secret,
    saltFor(day) {
      const today = utcDay(now());
      if (today !== checkedDay) {
        checkedDay = today;
        if (rotate()) persist();
      }
      return salts.get(day) ?? null;
    },
    days() {
      return [...salts.keys()].sort();
    },
  };
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

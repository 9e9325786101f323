/**
 * The shared salt store against the real ClickHouse 18.16: racing collectors converge, old days are
 * deleted from disk, and salts stay served from the cache while ClickHouse is unreachable.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClickHouse, ident, insertRows, queryRows, sql } from '@stint/infra/clickhouse';
import { createTestDatabase, type TestDatabase, waitFor } from '@stint/infra/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keptDays } from '../src/enrich/salt-rules.ts';
import { openSharedSaltStore, SALTS_TABLE, type SharedSaltStore } from '../src/enrich/shared-salts.ts';
import { DAY_MS } from '../src/enrich/visitor-id.ts';

const at = (iso: string) => Date.parse(iso);
const hex = (b: Buffer | null) => b?.toString('hex') ?? null;

let db: TestDatabase;
let dir: string;
const stores: SharedSaltStore[] = [];
const open = async (extra: Partial<Parameters<typeof openSharedSaltStore>[0]> = {}) => {
  const s = await openSharedSaltStore({ client: db.client, database: db.database, settleMs: 200, ...extra });
  stores.push(s);
  return s;
};

beforeEach(async () => {
  db = await createTestDatabase('shared_salts');
  dir = mkdtempSync(join(tmpdir(), 'stint-shared-salts-'));
});
afterEach(async () => {
  for (const s of stores.splice(0)) s.close();
  await db.drop();
});

describe('shared salts', () => {
  it('collectors starting at the same moment converge on one salt per day and one secret', async () => {
    const now = () => at('2025-03-10T12:00:00Z');
    const racing = await Promise.all(
      Array.from({ length: 4 }, (_, i) => open({ now, cacheFile: join(dir, `c${i}`, 'salts.json') })),
    );
    const today = keptDays(now()).today;
    const tomorrow = keptDays(now()).tomorrow;
    for (const day of [today, tomorrow]) {
      expect(new Set(racing.map((s) => hex(s.saltFor(day)))).size).toBe(1);
    }
    expect(new Set(racing.map((s) => hex(s.secret))).size).toBe(1);
    expect(hex(racing[0]?.saltFor(today) ?? null)).toMatch(/^[0-9a-f]{64}$/);
    expect(racing.every((s) => s.shared())).toBe(true);
    const [{ n: racers } = { n: '' }] = await queryRows<{ n: string }>(
      db.client,
      sql`SELECT count() AS n FROM ${ident(SALTS_TABLE)} WHERE day = toDate(${today})`,
    );
    // It was a race: all four read "no salt" before any insert (4 candidates in every run so far).
    expect(Number(racers)).toBeGreaterThan(1);
    // A collector started later takes the settled salts and proposes nothing.
    const [{ n: before } = { n: '' }] = await queryRows<{ n: string }>(
      db.client,
      `SELECT count() AS n FROM ${SALTS_TABLE}`,
    );
    const late = await open({ now });
    expect(hex(late.saltFor(today))).toBe(hex(racing[0]?.saltFor(today) ?? null));
    const [{ n: after } = { n: '' }] = await queryRows<{ n: string }>(
      db.client,
      `SELECT count() AS n FROM ${SALTS_TABLE}`,
    );
    expect(after).toBe(before);
    // The cache file of each collector holds the winners.
    const cached = JSON.parse(readFileSync(join(dir, 'c3', 'salts.json'), 'utf8')) as {
      salts: Record<string, string>;
      secret: string;
    };
    expect(cached.salts[today]).toBe(hex(late.saltFor(today)));
    expect(cached.secret).toBe(hex(late.secret));
  });

  it('adopts an older candidate that arrives after the race (the deterministic pick)', async () => {
    const now = () => at('2025-03-10T12:00:00Z');
    const s = await open({ now });
    const mine = hex(s.saltFor('2025-03-10'));
    const older = 'f'.repeat(64);
    await insertRows(db.client, `${db.database}.${SALTS_TABLE}`, [
      { day: '2025-03-10', salt: older, created_ms: now() - 1000 },
    ]);
    await s.sync();
    expect(hex(s.saltFor('2025-03-10'))).toBe(older);
    expect(older).not.toBe(mine);
  });

  it('deletes salts older than yesterday for real: the partition and its directory are gone', async () => {
    let t = at('2025-03-10T12:00:00Z');
    const cacheFile = join(dir, 'salts.json');
    const s = await open({ now: () => t, cacheFile });
    expect(statSync(cacheFile).mode & 0o777).toBe(0o600);
    const first = hex(s.saltFor('2025-03-10'));
    // The parts of a day on this server, or on a cluster (shared-salts.cluster.test.ts runs this file
    // there) on every server: the salt tables have a replica on each, and a drop reaches them all.
    const servers = db.cluster
      ? (
          await queryRows<{ address: string }>(
            db.client,
            sql`SELECT concat(host_address, ':', toString(port)) AS address FROM system.clusters WHERE cluster = ${db.cluster}`,
          )
        ).map((r) => sql`remote(${r.address}, system.parts)`)
      : [sql`system.parts`];
    const partsOf = async (day: string) =>
      (
        await Promise.all(
          servers.map((from) =>
            queryRows<{ path: string; active: number }>(
              db.client,
              sql`SELECT path, active FROM ${from} WHERE database = ${db.database} AND table = ${SALTS_TABLE}
                  AND partition = ${day}`,
            ),
          ),
        )
      ).flat();
    // Replication is asynchronous: on a cluster, wait until every replica holds the day.
    await waitFor(async () => (await partsOf('2025-03-10')).length >= servers.length, {
      timeoutMs: 30_000,
      message: 'the day on every server',
    });
    const before = await partsOf('2025-03-10');
    // The shared stack runs on this machine: the part directory is there to be looked at.
    for (const p of before) expect(existsSync(p.path)).toBe(true);

    t += DAY_MS; // 03-11: 03-10 is yesterday, still kept
    await s.sync();
    expect(hex(s.saltFor('2025-03-10'))).toBe(first);
    expect((await partsOf('2025-03-10')).length).toBeGreaterThan(0);

    t += DAY_MS; // 03-12: 03-10 is older than yesterday
    await s.sync();
    expect(s.saltFor('2025-03-10')).toBeNull();
    expect(s.days()).toEqual(['2025-03-11', '2025-03-12', '2025-03-13']);
    await waitFor(async () => (await partsOf('2025-03-10')).length === 0, {
      timeoutMs: 30_000,
      message: 'the day dropped on every server',
    });
    for (const p of before) expect(existsSync(p.path)).toBe(false);
    const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as { salts: Record<string, string> };
    expect(Object.keys(cached.salts).sort()).toEqual(['2025-03-11', '2025-03-12', '2025-03-13']);
    const rows = await queryRows(
      db.client,
      sql`SELECT salt FROM ${ident(SALTS_TABLE)} WHERE day = toDate('2025-03-10')`,
    );
    expect(rows).toEqual([]);
  });

  it('serves the cached salts, and tomorrow’s at midnight, while ClickHouse is unreachable', async () => {
    let t = at('2025-03-10T23:00:00Z');
    const cacheA = join(dir, 'a', 'salts.json');
    const a = await open({ now: () => t, cacheFile: cacheA });
    const today = hex(a.saltFor('2025-03-10'));
    const tomorrow = hex(a.saltFor('2025-03-11'));

    // Another collector, restarted while ClickHouse is down, with the same cached state.
    const cacheB = join(dir, 'b', 'salts.json');
    mkdirSync(join(dir, 'b'));
    copyFileSync(cacheA, cacheB);
    const down = createClickHouse({
      url: 'http://127.0.0.1:1',
      database: db.database,
      requestTimeoutMs: 1000,
    });
    const b = await open({ now: () => t, cacheFile: cacheB, client: down, startTimeoutMs: 2000 });
    expect(b.shared()).toBe(false);
    expect(hex(b.saltFor('2025-03-10'))).toBe(today);
    expect(hex(b.secret)).toBe(hex(a.secret));
    await expect(b.sync()).rejects.toThrow();

    // Past midnight, still down: the salt settled a day ahead is served, the same as everyone's.
    t = at('2025-03-11T00:05:00Z');
    expect(hex(b.saltFor('2025-03-11'))).toBe(tomorrow);
    expect(hex(b.saltFor('2025-03-10'))).toBe(today);
    await down.close();
  });

  it('carries over the salts and secret of an existing single-collector salt file', async () => {
    const now = () => at('2025-03-10T12:00:00Z');
    const file = join(dir, 'old', 'salts.json');
    const secret = '1'.repeat(64);
    const salt = '2'.repeat(64);
    mkdirSync(join(dir, 'old'));
    writeFileSync(file, JSON.stringify({ secret, salts: { '2025-03-10': salt } }));
    // A fresh collector races the old one: the old values win (proposed as created at 0).
    const [fresh, old] = await Promise.all([open({ now }), open({ now, cacheFile: file })]);
    // (At the latest at its next sync, if the old one's insert came after its read-back.)
    await fresh.sync();
    for (const s of [fresh, old]) {
      expect(hex(s.secret)).toBe(secret);
      expect(hex(s.saltFor('2025-03-10'))).toBe(salt);
    }
  });
});

/**
 * The salt store every collector of an install shares: candidates in ClickHouse
 * (`collector_salts`, `collector_secret`, migration 010), a copy in memory that every event reads
 * synchronously, and the local salt file as a cache for when ClickHouse is down at start.
 *
 * A sync (at start, then every `refreshMs`):
 *  1. reads the candidates of the kept days and of the secret;
 *  2. inserts a random candidate for each of today and tomorrow that has none (and for the secret),
 *     plus any candidate this collector made up while ClickHouse was unreachable;
 *  3. after inserting, waits `settleMs` and reads again, so candidates of collectors that started at
 *     the same moment are seen; every collector then takes the same winner (salt-rules.ts: oldest
 *     candidate, ties by value). Two collectors racing converge at once, or at the latest at the
 *     next sync if an insert arrived after the other's read-back;
 *  4. drops the partitions of days older than yesterday (their part directories leave the disk);
 *  5. rewrites the cache file with the winners.
 *
 * Tomorrow's salt is settled a day ahead, so at midnight every collector already holds the same one.
 * When ClickHouse is unreachable and a salt is needed that nobody cached (first start, or down since
 * before tomorrow's salt was made), the collector makes one up locally and proposes it once
 * ClickHouse answers; if another collector's candidate is older, ids change then (logged).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type ClickHouseClient, exec, ident, insertRows, queryRows, sql } from '@stint/infra/clickhouse';
import { z } from 'zod';
import {
  type Candidate,
  DAY,
  daysToPropose,
  HEX32,
  isExpired,
  keptDays,
  unsent,
  winner,
  winnersByDay,
} from './salt-rules.ts';
import type { SaltStore } from './salt-store.ts';
import { utcDay } from './visitor-id.ts';

export const SALTS_TABLE = 'collector_salts';
export const SECRET_TABLE = 'collector_secret';

/** The salt file: the old single-collector format, plus when each value was proposed (absent: 0). */
const CacheSchema = z.object({
  secret: z.string().regex(HEX32),
  secret_created_ms: z.number().int().min(0).default(0),
  salts: z.record(z.string().regex(DAY), z.string().regex(HEX32)),
  salts_created_ms: z.record(z.string().regex(DAY), z.number().int().min(0)).default({}),
});

interface Log {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface SharedSaltOptions {
  client: ClickHouseClient;
  database: string;
  /** Local cache (and the old salt file, whose values are carried over); none when undefined. */
  cacheFile?: string;
  now?: () => number;
  refreshMs?: number;
  settleMs?: number;
  /** How long the first sync may take before the collector goes on with its cache. */
  startTimeoutMs?: number;
  log?: Log;
  /**
   * ClickHouse cluster mode (default STINT_CLICKHOUSE_CLUSTER): the salt tables are replicated to
   * every server, and collectors may talk to different ones.
   */
  cluster?: string;
}

export interface SharedSaltStore extends SaltStore {
  /** One round with ClickHouse (what the timer runs); rejects when ClickHouse fails. */
  sync(): Promise<void>;
  /** True once a sync has succeeded and nothing was made up locally since. */
  shared(): boolean;
  close(): void;
}

const silent: Log = { warn() {}, info() {} };
const hex = () => randomBytes(32).toString('hex');

export async function openSharedSaltStore(options: SharedSaltOptions): Promise<SharedSaltStore> {
  const { client, cacheFile } = options;
  const now = options.now ?? Date.now;
  const log = options.log ?? silent;
  const db = ident(options.database);
  const settleMs = options.settleMs ?? 500;

  /** The salts in use, by day, with the candidate each came from. */
  const salts = new Map<string, { candidate: Candidate; bytes: Buffer }>();
  let secret: { candidate: Candidate; bytes: Buffer } | null = null;
  /** Candidates this collector holds that ClickHouse may not have yet (cache, made up while down). */
  let local: Candidate[] = [];
  let syncedOnce = false;

  const use = (c: Candidate) => ({ candidate: c, bytes: Buffer.from(c.value, 'hex') });

  const forget = (day: string) => {
    salts.get(day)?.bytes.fill(0);
    salts.delete(day);
  };

  const pruneMemory = () => {
    const t = now();
    for (const day of [...salts.keys()]) if (isExpired(day, t)) forget(day);
    local = local.filter((c) => c.day === '' || !isExpired(c.day, t));
  };

  const persist = () => {
    if (!cacheFile || !secret) return;
    mkdirSync(dirname(cacheFile), { recursive: true, mode: 0o700 });
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    const body = {
      secret: secret.candidate.value,
      secret_created_ms: secret.candidate.created_ms,
      salts: Object.fromEntries([...salts].map(([d, s]) => [d, s.candidate.value])),
      salts_created_ms: Object.fromEntries([...salts].map(([d, s]) => [d, s.candidate.created_ms])),
    };
    writeFileSync(tmp, JSON.stringify(body), { mode: 0o600 });
    renameSync(tmp, cacheFile);
  };

  /** A salt (or the secret) made up here because no shared one is known; proposed at the next sync. */
  const makeUp = (day: string): Candidate => {
    const c = { day, value: hex(), created_ms: now() };
    local.push(c);
    syncedOnce = false;
    log.warn({ day: day || 'secret' }, 'no shared salt known; using a local one until ClickHouse answers');
    return c;
  };

  // 1. The cache (or the old salt file) first, so salts are there even if ClickHouse is not.
  if (cacheFile && existsSync(cacheFile)) {
    try {
      const data = CacheSchema.parse(JSON.parse(readFileSync(cacheFile, 'utf8')));
      const t = now();
      secret = use({ day: '', value: data.secret, created_ms: data.secret_created_ms });
      local.push(secret.candidate);
      for (const [day, value] of Object.entries(data.salts)) {
        if (isExpired(day, t)) continue;
        const c = { day, value, created_ms: data.salts_created_ms[day] ?? 0 };
        salts.set(day, use(c));
        local.push(c);
      }
    } catch (err) {
      throw new Error(`salt file ${cacheFile} is unreadable; fix or remove it: ${(err as Error).message}`);
    }
  }

  const cluster = options.cluster ?? process.env.STINT_CLICKHOUSE_CLUSTER ?? '';
  /**
   * On a cluster, collectors on other servers insert into other replicas: before reading, this
   * server's replica fetches every candidate already committed anywhere (SYSTEM SYNC REPLICA), so
   * the read-back sees what it would see on one server. Bounded: a replica that cannot catch up
   * (another one down with parts only it has) reads what it has, and the next sync converges.
   */
  const syncReplicas = async () => {
    if (!cluster) return;
    for (const table of [SALTS_TABLE, SECRET_TABLE]) {
      await client
        .command({
          query: `SYSTEM SYNC REPLICA ${db}.${ident(table)}`,
          abort_signal: AbortSignal.timeout(5000),
        })
        .catch((err: Error) =>
          log.warn({ err, table }, 'salt replica did not catch up; reading what it has'),
        );
    }
  };

  const read = async (): Promise<{ days: Candidate[]; secrets: Candidate[] }> => {
    await syncReplicas();
    const { yesterday } = keptDays(now());
    // (An alias named like the column would shadow it in WHERE on 18.16.)
    const days = await queryRows<{ d: string; value: string; created_ms: string | number }>(
      client,
      sql`SELECT toString(day) AS d, salt AS value, created_ms FROM ${db}.${ident(SALTS_TABLE)}
          WHERE day >= toDate(${yesterday})`,
    );
    const secrets = await queryRows<{ value: string; created_ms: string | number }>(
      client,
      sql`SELECT secret AS value, created_ms FROM ${db}.${ident(SECRET_TABLE)}`,
    );
    return {
      days: days.map((r) => ({ day: r.d, value: r.value, created_ms: Number(r.created_ms) })),
      secrets: secrets.map((r) => ({ day: '', value: r.value, created_ms: Number(r.created_ms) })),
    };
  };

  const insert = async (candidates: Candidate[]) => {
    const days = candidates.filter((c) => c.day !== '');
    const secrets = candidates.filter((c) => c.day === '');
    await insertRows(
      client,
      `${options.database}.${SALTS_TABLE}`,
      days.map((c) => ({ day: c.day, salt: c.value, created_ms: c.created_ms })),
    );
    await insertRows(
      client,
      `${options.database}.${SECRET_TABLE}`,
      secrets.map((c) => ({ secret: c.value, created_ms: c.created_ms })),
    );
  };

  const dropExpired = async () => {
    const parts = await queryRows<{ partition: string }>(
      client,
      sql`SELECT DISTINCT partition FROM system.parts
          WHERE database = ${options.database} AND table = ${SALTS_TABLE} AND active`,
    );
    const t = now();
    for (const { partition } of parts) {
      const day = partition.replace(/^'|'$/g, '');
      if (DAY.test(day) && isExpired(day, t)) {
        await exec(client, sql`ALTER TABLE ${db}.${ident(SALTS_TABLE)} DROP PARTITION ${day}`);
      }
    }
  };

  const adopt = (stored: { days: Candidate[]; secrets: Candidate[] }) => {
    const t = now();
    for (const [day, c] of winnersByDay(stored.days, t)) {
      const held = salts.get(day);
      if (held?.candidate.value === c.value) continue;
      if (held) log.warn({ day }, 'another collector’s salt won this day; ids of this day change now');
      forget(day);
      salts.set(day, use(c));
    }
    const w = winner(stored.secrets.filter((c) => HEX32.test(c.value)));
    if (w && w.value !== secret?.candidate.value) {
      if (secret) log.warn({}, 'another collector’s install secret won; stable partitions change now');
      secret = use(w);
    }
  };

  let running: Promise<void> | null = null;
  const syncOnce = async () => {
    pruneMemory();
    const held = new Set(local);
    let stored = await read();
    const t = now();
    const known = new Set(stored.days.map((c) => c.day));
    const proposals = unsent(local, [...stored.days, ...stored.secrets], t);
    for (const day of daysToPropose(known, t)) {
      if (!proposals.some((c) => c.day === day)) proposals.push({ day, value: hex(), created_ms: t });
    }
    if (stored.secrets.length === 0 && !proposals.some((c) => c.day === '')) {
      proposals.push({ day: '', value: hex(), created_ms: t });
    }
    if (proposals.length > 0) {
      await insert(proposals);
      await new Promise((r) => setTimeout(r, settleMs));
      stored = await read();
    }
    adopt(stored);
    // What was held before this round is stored now; what was made up meanwhile waits for the next.
    local = local.filter((c) => !held.has(c));
    await dropExpired();
    pruneMemory();
    persist();
    syncedOnce = true;
  };
  const sync = () => {
    running ??= syncOnce().finally(() => {
      running = null;
    });
    return running;
  };

  // 2. The first sync, bounded: a collector starts with its cache when ClickHouse is slow or down.
  const startTimeoutMs = options.startTimeoutMs ?? 5000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      sync(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${startTimeoutMs} ms`)), startTimeoutMs);
      }),
    ]);
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'shared salts unavailable at start; using the local cache');
  } finally {
    clearTimeout(timer);
  }
  if (!secret) secret = use(makeUp(''));
  if (!salts.has(keptDays(now()).today)) {
    const c = makeUp(keptDays(now()).today);
    salts.set(c.day, use(c));
  }
  persist();

  let checkedDay = utcDay(now());
  let failing = false;
  const interval = setInterval(() => {
    sync().then(
      () => {
        if (failing) log.info({}, 'shared salts reachable again');
        failing = false;
      },
      (err) => {
        if (!failing)
          log.warn({ err: (err as Error).message }, 'shared salts: sync failed; serving cached salts');
        failing = true;
      },
    );
  }, options.refreshMs ?? 30_000);
  interval.unref();

  return {
    get secret() {
      return (secret as { bytes: Buffer }).bytes;
    },
    saltFor(day) {
      // Once per UTC day (not per event): forget what just expired.
      const today = utcDay(now());
      if (today !== checkedDay) {
        checkedDay = today;
        pruneMemory();
        persist();
      }
      const held = salts.get(day);
      if (held) return held.bytes;
      // Needed now and unknown (ClickHouse down since before it was settled): make one up, keep serving.
      if (day === today) {
        const c = makeUp(day);
        salts.set(day, use(c));
        persist();
        void sync().catch(() => {});
        return salts.get(day)?.bytes ?? null;
      }
      return null;
    },
    days() {
      return [...salts.keys()].sort();
    },
    sync,
    shared: () => syncedOnce && local.length === 0,
    close() {
      clearInterval(interval);
    },
  };
}

/**
 * A cache of report query results in the api process that never serves anything but the current
 * truth. A result is stored under its SQL text together with a fingerprint of the data it read: the
 * active parts of every table the SQL names (`system.parts`: name, rows, bytes, modification time).
 *
 * Why that is exact: a MergeTree table's data is the union of its active parts, a part never changes
 * once written, and every insert, merge, mutation or drop replaces the set of active parts with one
 * under new names (part names carry block numbers that only grow while the table exists). So equal
 * fingerprints mean equal data, and the report SQL is deterministic (literal bounds, no now(), exact
 * aggregates, total orders before every LIMIT), hence an equal result. A late correction (a new
 * version of a session, a tombstone, a re-tagged event) is a new part, so the next request misses and
 * recomputes. A table dropped and created again restarts its block numbers; rows, bytes and the
 * modification second in the fingerprint make a collision there need the same name, size and second.
 *
 * A result is stored only when the fingerprint taken after the query equals the one taken before it,
 * so a write that lands while the query runs never leaves a result under a fingerprint that does not
 * describe what the query read. Queries naming any table that is not a known data table (views, the
 * registry, system tables) are not cached at all.
 *
 * It pays off for ranges whose data is not being written: closed periods, several viewers or a
 * dashboard's parallel requests between two flushes of the sessionizer. A range that includes data
 * being written misses after every flush (and so does any report reading the per-visitor rollups,
 * which are not partitioned): those requests cost one `system.parts` query (a few ms) on top.
 */
import { type ClickHouseClient, queryRows, type RawSql, sql } from '@stint/infra/clickhouse';
import type { Row, Runner } from './reports.ts';

/** The tables report queries read; only queries naming nothing else are cached. */
export const CACHEABLE_TABLES = [
  'sessions_raw',
  'events_raw',
  'visitor_first_seen',
  'visitor_sessions',
  'visitor_tombstones',
] as const;

/** The fingerprint of the data in `tables`; equal fingerprints must mean equal data. */
export type Fingerprint = (tables: readonly string[]) => Promise<string>;

export interface ReportCacheOptions {
  /** Results kept (least recently used dropped first). Default 500. */
  maxEntries?: number;
  /** Results with more rows are not kept. Default 5000. */
  maxRows?: number;
  /** Counters to update (default: a fresh object, returned as `stats`). */
  stats?: CacheStats;
}

export interface CacheStats {
  hits: number;
  misses: number;
  /** Queries that were not cacheable (naming other tables). */
  bypassed: number;
  /** Misses not stored because the data changed while the query ran. */
  raced: number;
}

export interface CachedRunner {
  run: Runner;
  stats: CacheStats;
  size: () => number;
}

/**
 * The tables of `database` the SQL names (as `` `database`.table ``, the way the queries qualify every
 * name), or null when it names one that is not cacheable or a name in another database.
 */
export function tablesOf(text: string, database: string): string[] | null {
  const tables = new Set<string>();
  const prefix = `\`${database.replaceAll('`', '\\`')}\`.`;
  let at = text.indexOf(prefix);
  while (at !== -1) {
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(at + prefix.length));
    const name = m?.[0] ?? '';
    if (!(CACHEABLE_TABLES as readonly string[]).includes(name)) return null;
    tables.add(name);
    at = text.indexOf(prefix, at + prefix.length);
  }
  // Any other qualified or system name (e.g. `system.` or another database) is not tracked.
  if (/\bsystem\s*\./i.test(text)) return null;
  const qualified = text.match(/`[^`]*`\s*\./g) ?? [];
  if (qualified.some((q) => q.replace(/\s*\.$/, '') !== prefix.slice(0, -1))) return null;
  return tables.size === 0 ? null : [...tables].sort();
}

/** The cache around `run` (pure logic; `fingerprint` does the I/O). */
export function cachedRunner(
  run: Runner,
  database: string,
  fingerprint: Fingerprint,
  options: ReportCacheOptions = {},
): CachedRunner {
  const maxEntries = options.maxEntries ?? 500;
  const maxRows = options.maxRows ?? 5000;
  const entries = new Map<string, { fingerprint: string; rows: Row[] }>();
  const stats: CacheStats = options.stats ?? { hits: 0, misses: 0, bypassed: 0, raced: 0 };

  const cached: Runner = async (query: RawSql) => {
    const text = String(query);
    const tables = tablesOf(text, database);
    if (tables === null) {
      stats.bypassed++;
      return run(query);
    }
    const before = await fingerprint(tables);
    const hit = entries.get(text);
    if (hit && hit.fingerprint === before) {
      stats.hits++;
      entries.delete(text); // most recently used goes last
      entries.set(text, hit);
      return structuredClone(hit.rows);
    }
    stats.misses++;
    const rows = await run(query);
    const after = await fingerprint(tables);
    if (after !== before) {
      stats.raced++;
    } else if (rows.length <= maxRows) {
      entries.delete(text);
      entries.set(text, { fingerprint: before, rows: structuredClone(rows) });
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest === undefined) break;
        entries.delete(oldest);
      }
    }
    return rows;
  };
  return { run: cached, stats, size: () => entries.size };
}

/** The fingerprint from `system.parts`: every active part of the tables (name, rows, bytes, time). */
export function partsFingerprint(client: ClickHouseClient, database: string): Fingerprint {
  return async (tables) => {
    const rows = await queryRows<Record<string, unknown>>(
      client,
      sql`SELECT table, name, rows, bytes_on_disk, toUInt32(modification_time) AS mtime
FROM system.parts
WHERE database = ${database} AND has(${[...tables]}, table) AND active
ORDER BY table, name`,
    );
    return rows.map((r) => `${r.table}/${r.name}/${r.rows}/${r.bytes_on_disk}/${r.mtime}`).join('\n');
  };
}

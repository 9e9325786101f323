/**
 * Runs a report against one listing of the data's parts (src/partitions.ts), so that it may skip FINAL
 * in clean months and reuse results computed on exactly the same data, and never answers anything but
 * the current truth:
 *
 * 1. list the parts (one `system.parts` query): clean months, fingerprints;
 * 2. run the report's queries with those clean months (and a merged first-seen rollup); a query
 *    whose SQL text was answered before under the same fingerprint of the tables it names is answered
 *    from the cache (the SQL is deterministic: literal bounds, no now(), exact aggregates, total orders
 *    before every LIMIT);
 * 3. when any query ran, list the parts again: if nothing changed in the tables the report read, every
 *    read saw the listed parts, so the clean months were clean and the new results belong to those
 *    fingerprints: keep them. If something changed (a late correction, a merge), keep nothing, and
 *    when clean months were used, run the report again on the new listing, and if that races too,
 *    with FINAL everywhere (right whatever happens meanwhile).
 *
 * A late correction is a new part, so the next request misses and recomputes. Queries naming any
 * table that is not a data table (views, the registry, system tables) are never cached.
 *
 * Reports over a range say what they read up to (`readsBefore`): then a result is kept under the
 * fingerprint of only the months of `sessions_raw` up to that instant, so writes to
 * later months (the live sessionizer writing today, while someone looks at last month or at the
 * previous period of a comparison) do not invalidate it. Why the per-visitor rollups (migration 006,
 * not partitioned, written with every session row) can be left out of that fingerprint: they are
 * derived from `sessions_raw` rows alone, and the reports read them only for the visitors first seen
 * in their range, which ends before `readsBefore`. A session row starting at or after it can lower a
 * visitor's first start only to a time at or after it (outside every such range), and adds a tombstone
 * only for a session outside the range (a visitor's first live session before the range end is the
 * same with or without it); a row starting before it lands in a month the fingerprint covers.
 * Two limits of that argument: an insert commits its `sessions_raw` part before the views write the
 * rollups, so a month that took a write (or a merge) in the last SETTLE_S seconds keeps the whole
 * fingerprint, rollups included (src/partitions.ts); and a rollup rebuilt or backfilled by hand while
 * the api runs is not seen by bounded fingerprints: restart the api after such a rebuild.
 * The check after the report still compares every month of the tables it read, rollups included: a
 * write racing with the report keeps nothing.
 *
 * The cache pays off for data that is not being written: past periods, several viewers (or a
 * dashboard's parallel requests) between two flushes of the sessionizer. A range whose months take
 * writes misses after each flush.
 */
import type { RawSql } from '@stint/infra/clickhouse';
import { DATA_TABLES, type PartsListing } from './partitions.ts';
import { type CleanPartitions, monthId } from './queries/common.ts';
import type { Row, Runner } from './reports.ts';

export interface ReportCacheOptions {
  /** Results kept (least recently used dropped first). Default 500. */
  maxEntries?: number;
  /** Results with more rows are not kept. Default 5000. */
  maxRows?: number;
  /** Rows kept in all (least recently used results dropped first). Default 100 000 (tens of MB). */
  maxTotalRows?: number;
  /** Counters to update (default: a fresh object). */
  stats?: CacheStats;
  /** See SETTLE_S in src/partitions.ts (tests use 0). */
  settleSeconds?: number;
}

export interface CacheStats {
  hits: number;
  misses: number;
  /** Queries that were not cacheable (naming other tables). */
  bypassed: number;
  /** Reports whose data changed while they ran (nothing kept; rerun with FINAL if it was skipped). */
  raced: number;
}

/**
 * The data tables of `database` the SQL names (as `` `database`.table ``, the way the queries qualify
 * every name), or null when it names a table that is not a data table, another database or `system`.
 */
export function tablesOf(text: string, database: string): string[] | null {
  const tables = new Set<string>();
  const prefix = `\`${database.replaceAll('`', '\\`')}\`.`;
  let at = text.indexOf(prefix);
  while (at !== -1) {
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(at + prefix.length));
    const name = m?.[0] ?? '';
    if (!(DATA_TABLES as readonly string[]).includes(name)) return null;
    tables.add(name);
    at = text.indexOf(prefix, at + prefix.length);
  }
  if (/\bsystem\s*\./i.test(text)) return null;
  const qualified = text.match(/`[^`]*`\s*\./g) ?? [];
  if (qualified.some((q) => q.replace(/\s*\.$/, '') !== prefix.slice(0, -1))) return null;
  return tables.size === 0 ? null : [...tables].sort();
}

/** Results by SQL text, each with the fingerprint of the data it was computed on (LRU). */
export class ReportCache {
  readonly stats: CacheStats;
  private readonly entries = new Map<string, { fingerprint: string; rows: Row[] }>();
  private readonly maxEntries: number;
  private readonly maxRows: number;
  private readonly maxTotalRows: number;
  private totalRows = 0;

  constructor(options: ReportCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 500;
    this.maxRows = options.maxRows ?? 5000;
    this.maxTotalRows = options.maxTotalRows ?? 100_000;
    this.stats = options.stats ?? { hits: 0, misses: 0, bypassed: 0, raced: 0 };
  }

  get size(): number {
    return this.entries.size;
  }

  get(text: string, fingerprint: string): Row[] | undefined {
    const hit = this.entries.get(text);
    if (!hit || hit.fingerprint !== fingerprint) return undefined;
    this.entries.delete(text); // the most recently used goes last
    this.entries.set(text, hit);
    return structuredClone(hit.rows);
  }

  set(text: string, fingerprint: string, rows: Row[]): void {
    this.drop(text);
    if (rows.length > this.maxRows || rows.length > this.maxTotalRows) return;
    this.entries.set(text, { fingerprint, rows: structuredClone(rows) });
    this.totalRows += rows.length;
    while (this.entries.size > this.maxEntries || this.totalRows > this.maxTotalRows) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.drop(oldest);
    }
  }

  private drop(text: string): void {
    const old = this.entries.get(text);
    if (old === undefined) return;
    this.totalRows -= old.rows.length;
    this.entries.delete(text);
  }
}

export interface ReportRunOptions {
  database: string;
  /** Runs a query on the server. */
  direct: Runner;
  /** Lists the data's parts. */
  list: () => Promise<PartsListing>;
  /** null: no cache. */
  cache: ReportCache | null;
  /** false: FINAL everywhere. */
  skipFinal: boolean;
}

/**
 * The last month (`YYYYMM`) that can hold a row from before `instant`: partitions are months of the
 * server's time zone, at most 14 h ahead of UTC, so one day later in UTC covers every zone.
 */
export function lastMonthBefore(instant: Date): string {
  return monthId(instant, 1);
}

/**
 * Runs one report as described at the top of this file. `readsBefore`: every session the report
 * reads started before this instant, and every visitor it looks up in the rollups was first seen
 * before it. Events are not covered (a session's events may come after its start): a query naming
 * `events_raw` is fingerprinted over every month.
 */
export async function runReport<T>(
  o: ReportRunOptions,
  report: (run: Runner, clean: CleanPartitions | undefined) => Promise<T>,
  readsBefore?: Date,
): Promise<T> {
  const untilMonth = readsBefore === undefined ? undefined : lastMonthBefore(readsBefore);
  if (o.cache === null && !o.skipFinal) return report(o.direct, undefined);
  const cache = o.cache;
  let before = await o.list();
  // A report that skipped FINAL and raced with a write or a merge runs again on the new listing (merges
  // of the small parts a flush leaves come soon after it), then with FINAL everywhere.
  for (let attempt = 1; ; attempt++) {
    const listing = before;
    const c = listing.clean;
    const clean =
      o.skipFinal &&
      (c.sessions.length + c.events.length > 0 ||
        c.firstSeen !== undefined ||
        c.sessionsAmended !== undefined ||
        c.firstSeenAmended !== undefined)
        ? c
        : undefined;
    const fresh: { text: string; fingerprint: string; rows: Row[] }[] = [];
    let executed = false;
    /** The data tables the report's queries read; null once one read anything else. */
    let read: Set<string> | null = new Set<string>();
    const run: Runner = async (query: RawSql) => {
      const text = String(query);
      const tables = tablesOf(text, o.database);
      if (tables === null) {
        read = null;
        executed = true;
        if (cache) cache.stats.bypassed++;
        return o.direct(query);
      }
      for (const t of tables) read?.add(t);
      const fingerprint = listing.fingerprint(tables, tables.includes('events_raw') ? undefined : untilMonth);
      const hit = cache?.get(text, fingerprint);
      if (hit) {
        if (cache) cache.stats.hits++;
        return hit;
      }
      if (cache) cache.stats.misses++;
      executed = true;
      const rows = await o.direct(query);
      fresh.push({ text, fingerprint, rows });
      return rows;
    };
    const result = await report(run, clean);
    // Answers from the cache alone are right for the listing; FINAL-only answers without anything
    // to keep are right for some moment while the report ran (as without any of this).
    if (!executed || (clean === undefined && fresh.length === 0)) return result;
    const after = await o.list();
    // Only the tables it read matter to a report (a merge of the events does not touch a summary).
    const same =
      read === null
        ? after.token === listing.token
        : after.fingerprint([...read]) === listing.fingerprint([...read]);
    if (same) {
      for (const f of fresh) cache?.set(f.text, f.fingerprint, f.rows);
      return result;
    }
    if (cache) cache.stats.raced++;
    if (clean === undefined) return result;
    if (attempt >= RACED_ATTEMPTS) return report(o.direct, undefined);
    before = after;
  }
}

/** Runs of a report that skipped FINAL before it runs with FINAL everywhere, when the parts change. */
const RACED_ATTEMPTS = 2;

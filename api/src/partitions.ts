/**
 * What one listing of the data tables' active parts (`system.parts`) tells the api:
 *
 * - **Clean parts**: a part of `sessions_raw` / `events_raw` that is the only active part of its month
 *   (partition) and came out of a merge (level > 0) has one row per sort key, the latest version (every
 *   version of a session id or event id lives in the same partition, since the partition key
 *   `toYYYYMM(started_at)` / `toYYYYMM(ts)` never changes for an id, and a ReplacingMergeTree merge
 *   keeps one row per sort key). It is read without FINAL (single-threaded on 18.16), selected by
 *   `_part`, so the server's time zone never matters.
 * - **A merged first-seen rollup**: when `visitor_first_seen` (AggregatingMergeTree, not partitioned)
 *   is one active part that came out of a merge, it holds one row per (site, visitor) with the merged
 *   state, so it is read without grouping, selected by `_part` (queries/first-seen.ts).
 * - **Fingerprints**: per table, its active parts (name, rows, bytes, modification second). A part
 *   never changes once written, and part names are never reused while a table exists (block numbers
 *   only grow), so equal fingerprints mean equal data. A table dropped and created again restarts its
 *   block numbers; rows, bytes and the second make a collision there need the same name, size and time.
 *
 * Both hold only while the parts are those listed; `runReport` (report-cache.ts) lists again after a
 * report and accepts the report only when nothing changed in between.
 */
import { type ClickHouseClient, queryRows, sql } from '@stint/infra/clickhouse';
import type { CleanPartitions } from './queries/common.ts';

/** The tables report queries read; queries naming anything else are neither cached nor checked. */
export const DATA_TABLES = [
  'sessions_raw',
  'events_raw',
  'visitor_first_seen',
  'visitor_sessions',
  'visitor_tombstones',
] as const;

export interface PartRow {
  table: string;
  partition: string;
  name: string;
  level: number;
  rows?: number | string;
  bytes?: number | string;
  mtime?: number | string;
}

/** The tables partitioned by month (`toYYYYMM` of the session's start / the event's time). */
const MONTHLY_TABLES: readonly string[] = ['sessions_raw', 'events_raw'];

export interface PartsListing {
  clean: CleanPartitions;
  /**
   * The fingerprint of some of the data tables: equal strings mean equal data. With `untilMonth`
   * (`YYYYMM`), the fingerprint of what a report reading only rows before that month's end depends
   * on: the months up to it of the monthly tables, and none of the per-visitor rollups (see
   * `readsBefore` in report-cache.ts for why that is enough).
   */
  fingerprint: (tables: readonly string[], untilMonth?: string) => string;
  /** The fingerprint of every data table. */
  token: string;
}

/** The clean parts and fingerprints of a listing of active parts (pure). */
export function listingOf(rows: readonly PartRow[]): PartsListing {
  const byPartition = new Map<string, PartRow[]>();
  const byTable = new Map<string, PartRow[]>();
  for (const r of rows) {
    const key = `${r.table}\u0000${r.partition}`;
    byPartition.set(key, [...(byPartition.get(key) ?? []), r]);
    byTable.set(r.table, [...(byTable.get(r.table) ?? []), r]);
  }
  const clean: { sessions: string[]; events: string[]; firstSeen?: string } = { sessions: [], events: [] };
  for (const parts of byPartition.values()) {
    const only = parts[0];
    if (parts.length !== 1 || only === undefined || only.level < 1) continue;
    if (only.table === 'sessions_raw') clean.sessions.push(only.name);
    if (only.table === 'events_raw') clean.events.push(only.name);
  }
  clean.sessions.sort();
  clean.events.sort();
  // The rollup is not partitioned: clean when the whole table is one merged part.
  const rollup = rows.filter((r) => r.table === 'visitor_first_seen');
  const onlyRollup = rollup[0];
  if (rollup.length === 1 && onlyRollup !== undefined && onlyRollup.level >= 1)
    clean.firstSeen = onlyRollup.name;
  const fingerprint = (tables: readonly string[], untilMonth?: string) =>
    // Bounded, a rollup stands for the sessions it is derived from (by materialized views).
    [
      ...new Set(
        untilMonth === undefined
          ? tables
          : tables.map((t) => (MONTHLY_TABLES.includes(t) ? t : 'sessions_raw')),
      ),
    ]
      .sort()
      .map((t) => {
        const parts = (byTable.get(t) ?? []).filter(
          // Partition ids of the monthly tables are `YYYYMM`: as strings they sort like the months.
          (r) => untilMonth === undefined || String(r.partition) <= untilMonth,
        );
        return `${t}:${parts
          .map((r) => `${r.name}/${r.rows}/${r.bytes}/${r.mtime}`)
          .sort()
          .join(',')}`;
      })
      .join('\n');
  return { clean, fingerprint, token: fingerprint([...byTable.keys()]) };
}

export async function listParts(client: ClickHouseClient, database: string): Promise<PartsListing> {
  const rows = await queryRows<PartRow & { level: number | string }>(
    client,
    sql`SELECT table, partition, name, level, rows, bytes_on_disk AS bytes, toUInt32(modification_time) AS mtime
FROM system.parts
WHERE database = ${database} AND has(${[...DATA_TABLES]}, table) AND active`,
  );
  return listingOf(rows.map((r) => ({ ...r, level: Number(r.level) })));
}

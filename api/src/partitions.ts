/**
 * Reading without FINAL where that is provably the same: a month of `sessions_raw` / `events_raw`
 * whose only active part came out of a merge (level > 0) has one row per sort key, the latest version
 * (every version of a session id or event id lives in the same month, since the partition key
 * `toYYYYMM(started_at)` / `toYYYYMM(ts)` never changes for an id, and a ReplacingMergeTree merge
 * keeps one row per sort key). FINAL, single-threaded on 18.16, is then pure cost.
 *
 * The catch is time: a write may land after the parts were listed. So a report runs with the clean
 * months of one listing and is accepted only when a second listing after it names exactly the same
 * parts. Part names are never reused while a table exists (block numbers only grow), so equal
 * listings before and after mean no part came or went in between, and every read of the report saw the
 * listed parts. Otherwise the report runs again with FINAL everywhere.
 */
import { type ClickHouseClient, queryRows, sql } from '@stint/infra/clickhouse';
import type { CleanPartitions } from './queries/common.ts';

export interface PartRow {
  table: string;
  partition: string;
  name: string;
  level: number;
}

export interface PartsListing {
  clean: CleanPartitions;
  /** Every active part's table and name: equal tokens mean the same data. */
  token: string;
}

/** The clean months of a listing of active parts (pure). */
export function listingOf(rows: readonly PartRow[]): PartsListing {
  const byPartition = new Map<string, PartRow[]>();
  for (const r of rows) {
    const key = `${r.table}\u0000${r.partition}`;
    byPartition.set(key, [...(byPartition.get(key) ?? []), r]);
  }
  const clean: { sessions: number[]; events: number[] } = { sessions: [], events: [] };
  for (const parts of byPartition.values()) {
    const only = parts[0];
    if (parts.length !== 1 || only === undefined || only.level < 1) continue;
    if (!/^\d{6}$/.test(only.partition)) continue;
    const month = Number(only.partition);
    if (only.table === 'sessions_raw') clean.sessions.push(month);
    if (only.table === 'events_raw') clean.events.push(month);
  }
  clean.sessions.sort((a, b) => a - b);
  clean.events.sort((a, b) => a - b);
  const token = rows
    .map((r) => `${r.table}/${r.name}`)
    .sort()
    .join('\n');
  return { clean, token };
}

export async function listParts(client: ClickHouseClient, database: string): Promise<PartsListing> {
  const rows = await queryRows<{ table: string; partition: string; name: string; level: number | string }>(
    client,
    sql`SELECT table, partition, name, level FROM system.parts
WHERE database = ${database} AND has(['sessions_raw', 'events_raw'], table) AND active`,
  );
  return listingOf(rows.map((r) => ({ ...r, level: Number(r.level) })));
}

/**
 * Runs `report` with the clean months of a listing, and accepts its result only if the parts are the
 * same afterwards; otherwise runs it again with FINAL everywhere (always right).
 */
export async function withCleanPartitions<T>(
  list: () => Promise<PartsListing>,
  report: (clean: CleanPartitions | undefined) => Promise<T>,
): Promise<T> {
  const before = await list();
  if (before.clean.sessions.length === 0 && before.clean.events.length === 0) return report(undefined);
  const result = await report(before.clean);
  const after = await list();
  return after.token === before.token ? result : report(undefined);
}

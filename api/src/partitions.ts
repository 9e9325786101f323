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
import { type ClickHouseClient, join, LOCAL_SUFFIX, queryRows, sql } from '@stint/infra/clickhouse';
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

/**
 * A month of `sessions_raw` (or the first-seen rollup) whose largest part came out of a merge and
 * whose other parts hold at most 1/AMENDED_MAX_SHARE of its rows is read as "amended" (see
 * `sessionsIn`, `firstEverSql`): the merged part as it is, except for the ids the newer parts hold.
 */
const AMENDED_MAX_SHARE = 10;

/**
 * The parts of one partition as a merged part and the newer parts written since (see
 * AMENDED_MAX_SHARE), or null when they are not that.
 */
function amendedSplit(parts: readonly PartRow[]): { merged: string; newer: string[] } | null {
  const rowsOf = (r: PartRow) => Number(r.rows ?? 0);
  const largest = parts.reduce((a, b) => (rowsOf(b) > rowsOf(a) ? b : a));
  const others = parts.filter((r) => r !== largest);
  const otherRows = others.reduce((sum, r) => sum + rowsOf(r), 0);
  if (others.length === 0 || largest.level < 1 || rowsOf(largest) === 0) return null;
  if (otherRows * AMENDED_MAX_SHARE > rowsOf(largest)) return null;
  return { merged: largest.name, newer: others.map((r) => r.name) };
}

/** The tables partitioned by month (`toYYYYMM` of the session's start / the event's time). */
const MONTHLY_TABLES: readonly string[] = ['sessions_raw', 'events_raw'];

export interface PartsListing {
  clean: CleanPartitions;
  /**
   * The fingerprint of some of the data tables: equal strings mean equal data. With `untilMonth`
   * (`YYYYMM`), the fingerprint of what a report reading only rows before that month's end depends
   * on: the months up to it of the monthly tables, and none of the per-visitor rollups (see
   * `readsBefore` in report-cache.ts for why that is enough), once those months have settled (see
   * SETTLE_S); before, the whole fingerprint.
   */
  fingerprint: (tables: readonly string[], untilMonth?: string) => string;
  /** The fingerprint of every data table. */
  token: string;
}

/**
 * Seconds after the newest part of a month of `sessions_raw` was written (or merged) before bounded
 * fingerprints rely on that month: an insert commits its `sessions_raw` part before the materialized
 * views write the rollups' rows, so for a moment the rollups lag behind the sessions. A result
 * computed in that moment is right only under a key that also covers the rollups' parts. A minute is
 * far more than a flush's materialized views take.
 */
export const SETTLE_S = 60;

/**
 * The clean parts and fingerprints of a listing of active parts (pure). `serverNow`: the server's
 * clock at the listing (unix seconds), without which fingerprints are never bounded.
 */
export function listingOf(rows: readonly PartRow[], serverNow?: number, settleS = SETTLE_S): PartsListing {
  const byPartition = new Map<string, PartRow[]>();
  const byTable = new Map<string, PartRow[]>();
  for (const r of rows) {
    const key = `${r.table}\u0000${r.partition}`;
    byPartition.set(key, [...(byPartition.get(key) ?? []), r]);
    byTable.set(r.table, [...(byTable.get(r.table) ?? []), r]);
  }
  const clean: {
    sessions: string[];
    events: string[];
    sessionsAmended?: { merged: string[]; newer: string[] };
    firstSeen?: string;
    firstSeenAmended?: { merged: string; newer: string[] };
  } = { sessions: [], events: [] };
  const amended = { merged: [] as string[], newer: [] as string[] };
  for (const parts of byPartition.values()) {
    const only = parts[0];
    if (only === undefined) continue;
    if (parts.length === 1 && only.level >= 1) {
      if (only.table === 'sessions_raw') clean.sessions.push(only.name);
      if (only.table === 'events_raw') clean.events.push(only.name);
      continue;
    }
    if (only.table !== 'sessions_raw') continue;
    // A merged month that took a few writes since its merge (the live sessionizer's month).
    const split = amendedSplit(parts);
    if (split) {
      amended.merged.push(split.merged);
      amended.newer.push(...split.newer);
    }
  }
  clean.sessions.sort();
  clean.events.sort();
  if (amended.merged.length > 0) {
    clean.sessionsAmended = { merged: amended.merged.sort(), newer: amended.newer.sort() };
  }
  // The rollup is not partitioned: clean when the whole table is one merged part, amended when it is
  // a merged part and a few newer ones.
  const rollup = rows.filter((r) => r.table === 'visitor_first_seen');
  const onlyRollup = rollup[0];
  if (rollup.length === 1 && onlyRollup !== undefined && onlyRollup.level >= 1)
    clean.firstSeen = onlyRollup.name;
  const rollupSplit = rollup.length > 1 ? amendedSplit(rollup) : null;
  if (rollupSplit) clean.firstSeenAmended = { merged: rollupSplit.merged, newer: rollupSplit.newer.sort() };
  /** Whether the months of `sessions_raw` up to `untilMonth` took no write or merge in `settleS`. */
  const settled = (untilMonth: string) =>
    serverNow !== undefined &&
    (byTable.get('sessions_raw') ?? []).every(
      (r) =>
        String(r.partition) > untilMonth ||
        Number(r.mtime ?? Number.POSITIVE_INFINITY) <= serverNow - settleS,
    );
  const fingerprint = (tables: readonly string[], bound?: string): string => {
    // Unsettled months may have rollups lagging behind them: the whole fingerprint, rollups included.
    const untilMonth = bound !== undefined && settled(bound) ? bound : undefined;
    // Bounded, a rollup stands for the sessions it is derived from (by materialized views).
    return [
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
  };
  return { clean, fingerprint, token: fingerprint([...byTable.keys()]) };
}

export interface ListOptions {
  settleS?: number;
  /** Cluster mode (infra/src/clickhouse/cluster-ddl.ts): list every server of this cluster. */
  cluster?: string;
}

export async function listParts(
  client: ClickHouseClient,
  database: string,
  options: ListOptions | number = {},
): Promise<PartsListing> {
  const o = typeof options === 'number' ? { settleS: options } : options;
  const cluster = o.cluster ?? process.env.STINT_CLICKHOUSE_CLUSTER ?? '';
  const settleS = o.settleS ?? SETTLE_S;
  const rows = cluster ? await clusterPartRows(client, database, cluster) : await partRows(client, database);
  const now = rows[0] === undefined ? undefined : Number((rows[0] as { now?: number | string }).now);
  const listing = listingOf(
    rows.map((r) => ({ ...r, level: Number(r.level) })),
    now,
    settleS,
  );
  // On a cluster a month is spread over shards whose part names may collide: nothing is read by part
  // name (every report reads with FINAL, each shard merging its own rows); fingerprints still hold.
  return cluster ? { ...listing, clean: { sessions: [], events: [] } } : listing;
}

type ListedRow = PartRow & { level: number | string; now?: number | string };

const PART_COLUMNS = sql`partition, name, level, rows, bytes_on_disk AS bytes, toUInt32(modification_time) AS mtime,
  toUInt32(now()) AS now`;

function partRows(client: ClickHouseClient, database: string): Promise<ListedRow[]> {
  return queryRows<ListedRow>(
    client,
    sql`SELECT table, ${PART_COLUMNS}
FROM system.parts
WHERE database = ${database} AND has(${[...DATA_TABLES]}, table) AND active`,
  );
}

/**
 * Cluster mode: the active parts of the local tables (`<table>_local`) of one replica per shard, the
 * one the reports read: `remote('r1|r2')` and the Distributed tables both take the first replica that
 * answers (load_balancing = in_order in cluster mode, infra/src/clickhouse/client.ts). Each part is
 * named `<shard>:<replica>/<part>` (the replica from its `system.macros`), so parts of different
 * shards never collide and a report that fails over to another replica sees another fingerprint. The
 * price: one listing fans out to every shard, twice.
 */
async function clusterPartRows(
  client: ClickHouseClient,
  database: string,
  cluster: string,
): Promise<ListedRow[]> {
  const hosts = await queryRows<{ address: string; shard: number | string }>(
    client,
    sql`SELECT concat(host_address, ':', toString(port)) AS address, shard_num AS shard
FROM system.clusters WHERE cluster = ${cluster} ORDER BY shard_num, replica_num`,
  );
  if (hosts.length === 0)
    throw new Error(`cluster ${cluster} (STINT_CLICKHOUSE_CLUSTER) is not in this server's remote_servers`);
  const shards = new Map<string, string[]>();
  for (const h of hosts) shards.set(String(h.shard), [...(shards.get(String(h.shard)) ?? []), h.address]);
  const locals = DATA_TABLES.map((t) => `${t}${LOCAL_SUFFIX}`);
  const branches = [...shards].flatMap(([shard, addresses]) => {
    const from = sql`remote(${addresses.join('|')}, system.parts)`;
    return [
      // Constants are materialized: a UNION ALL over remote servers must not mix constant and not.
      sql`SELECT materialize(${shard}) AS shard, table, partition, name, level, rows, bytes_on_disk AS bytes, toUInt32(modification_time) AS mtime,
  materialize(toUInt32(now())) AS now
FROM ${from} WHERE database = ${database} AND has(${locals}, table) AND active`,
      sql`SELECT materialize(${shard}) AS shard, materialize('') AS table, materialize('') AS partition,
  substitution AS name, materialize(toUInt64(0)) AS level, materialize(toUInt64(0)) AS rows,
  materialize(toUInt64(0)) AS bytes, materialize(toUInt32(0)) AS mtime, materialize(toUInt32(now())) AS now
FROM remote(${addresses.join('|')}, system.macros) WHERE macro = 'replica'`,
    ];
  });
  const rows = await queryRows<ListedRow & { shard: string }>(
    client,
    sql`SELECT * FROM (${join(branches, ' UNION ALL ')})`,
  );
  const replicaOf = new Map(rows.filter((r) => r.table === '').map((r) => [String(r.shard), r.name]));
  return rows
    .filter((r) => r.table !== '')
    .map(({ shard, ...r }) => ({
      ...r,
      table: r.table.slice(0, -LOCAL_SUFFIX.length),
      name: `${shard}:${replicaOf.get(String(shard)) ?? '?'}/${r.name}`,
    }));
}

/**
 * Cluster mode of the migrations (STINT_CLICKHOUSE_CLUSTER=<name>): the single-node statements of
 * infra/clickhouse/migrations, rewritten for a cluster of Replicated tables. Pure (no I/O), so the same
 * files stay the one place the schema is written, and the rewrite is tested alone.
 *
 * Two kinds of tables:
 *
 * - **Sharded** (the data: events, sessions and the per-visitor rollups): `<name>_local` is a
 *   `Replicated*MergeTree` on every server (ZooKeeper path per `{shard}`), and `<name>` is a
 *   `Distributed` table over them, sharded by `cityHash64(site_id, visitor_id)`. Every version of a
 *   session id or event id belongs to one visitor, so it lands on one shard, where `FINAL` and
 *   ReplacingMergeTree merges see all of them; every session of a visitor too, so per-visitor
 *   subqueries (first seen, returning visitors) are complete on each shard
 *   (`distributed_product_mode = 'local'`, client.ts). Materialized views read and write the local
 *   tables: a session row lands on its shard and its rollup rows are written there, beside it.
 * - **Global** (registry, auth, salts, schema_migrations: small, read by every service): one
 *   `Replicated*MergeTree` with a single ZooKeeper path, a replica on every server, so each server
 *   reads them locally and a write on any server reaches all. An ALTER of one (a column, a dropped
 *   salt partition) runs on one server and is replicated by ZooKeeper, so it stays without ON CLUSTER.
 *
 * Everything else (databases, views, the sharded tables' ALTERs, drops) runs ON CLUSTER.
 */

export const SHARDED_TABLES: Readonly<Record<string, string>> = {
  events_raw: 'cityHash64(site_id, visitor_id)',
  sessions_raw: 'cityHash64(site_id, visitor_id)',
  visitor_first_seen: 'cityHash64(site_id, visitor_id)',
  visitor_tombstones: 'cityHash64(site_id, visitor_id)',
  visitor_sessions: 'cityHash64(site_id, visitor_id)',
};

export const LOCAL_SUFFIX = '_local';

export class ClusterDdlError extends Error {}

/** `{db}.name` written by readMigrations: a backquoted database, a dot, a plain name. */
const QUALIFIED = '(`(?:[^`\\\\]|\\\\.)+`)\\.([A-Za-z_][A-Za-z0-9_]*)';

function unquote(db: string): string {
  return db.slice(1, -1).replace(/\\(.)/g, '$1');
}

/** `ReplacingMergeTree(version)` → `ReplicatedReplacingMergeTree('<path>', '{replica}', version)`. */
function replicatedEngine(engine: string, args: string | undefined, zkPath: string): string {
  const rest = args?.trim() ? `, ${args.trim()}` : '';
  return `Replicated${engine}('${zkPath}', '{replica}'${rest})`;
}

const ENGINE = /ENGINE\s*=\s*((?:Replacing|Aggregating|Summing|Collapsing)?MergeTree)\b(?:\s*\(([^)]*)\))?/;

export interface ClusterDdlOptions {
  cluster: string;
}

function quoteIdent(name: string): string {
  return `\`${name.replaceAll('\\', '\\\\').replaceAll('`', '\\`')}\``;
}

/** The `_local` name of every sharded table the text names as `db.table` (for views and MVs). */
function toLocal(text: string): string {
  return text.replace(new RegExp(QUALIFIED, 'g'), (whole, db: string, name: string) =>
    name in SHARDED_TABLES ? `${db}.${name}${LOCAL_SUFFIX}` : whole,
  );
}

/**
 * A Distributed table over `<name>_local`, to be completed with the local table's columns (migrate.ts
 * reads them with DESCRIBE, then calls distributedDdl): 18.16's `AS <local>` would copy a
 * MATERIALIZED column as MATERIALIZED, and a Distributed insert then sends the computed column to the
 * shard, which refuses it.
 */
export interface DistributedTable {
  distributed: { db: string; name: string; cluster: string };
}

export type ClusterStatement = string | DistributedTable;

function distributed(db: string, name: string, cluster: string): DistributedTable {
  return { distributed: { db, name, cluster } };
}

export interface ColumnDescription {
  name: string;
  type: string;
  default_type: string;
  default_expression: string;
}

/** The Distributed table's DDL from the local table's columns: MATERIALIZED ones become ALIAS. */
export function distributedDdl(
  t: DistributedTable['distributed'],
  columns: readonly ColumnDescription[],
): string {
  const cols = columns.map((c) => {
    const kind = c.default_type === 'MATERIALIZED' ? 'ALIAS' : c.default_type;
    const rest = kind ? ` ${kind} ${c.default_expression}` : '';
    return `    ${quoteIdent(c.name)} ${c.type}${rest}`;
  });
  const cluster = quoteIdent(t.cluster);
  return `CREATE TABLE IF NOT EXISTS ${t.db}.${t.name} ON CLUSTER ${cluster}
(
${cols.join(',\n')}
)
ENGINE = Distributed(${cluster}, ${t.db}, ${t.name}${LOCAL_SUFFIX}, ${SHARDED_TABLES[t.name]})`;
}

/** One single-node statement as the statements of cluster mode, in order. */
export function clusterStatements(statement: string, o: ClusterDdlOptions): ClusterStatement[] {
  const on = `ON CLUSTER ${quoteIdent(o.cluster)}`;
  const s = statement.trim();
  let m = new RegExp(`^CREATE\\s+TABLE\\s+IF\\s+NOT\\s+EXISTS\\s+${QUALIFIED}\\s*([\\s\\S]*)$`, 'i').exec(s);
  if (m) {
    const [, db = '', name = '', body = ''] = m;
    const engine = ENGINE.exec(body);
    if (!engine)
      throw new ClusterDdlError(`cluster mode knows no replicated form of the engine in: ${s.slice(0, 200)}`);
    const sharded = name in SHARDED_TABLES;
    const table = sharded ? `${name}${LOCAL_SUFFIX}` : name;
    const zkPath = sharded
      ? `/clickhouse/tables/{shard}/${unquote(db)}.${table}`
      : `/clickhouse/tables/global/${unquote(db)}.${table}`;
    const replicated = body.replace(
      ENGINE,
      `ENGINE = ${replicatedEngine(engine[1] ?? '', engine[2], zkPath)}`,
    );
    const local = `CREATE TABLE IF NOT EXISTS ${db}.${table} ${on} ${replicated}`;
    if (!sharded) return [local];
    return [local, distributed(db, name, o.cluster)];
  }
  m = new RegExp(
    `^CREATE\\s+MATERIALIZED\\s+VIEW\\s+IF\\s+NOT\\s+EXISTS\\s+${QUALIFIED}\\s+([\\s\\S]*)$`,
    'i',
  ).exec(s);
  if (m) {
    const [, db = '', name = '', rest = ''] = m;
    if (!/^TO\s/i.test(rest))
      throw new ClusterDdlError(`cluster mode needs materialized views with TO: ${name}`);
    return [`CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${name} ${on} ${toLocal(rest)}`];
  }
  m = new RegExp(`^CREATE\\s+VIEW\\s+IF\\s+NOT\\s+EXISTS\\s+${QUALIFIED}\\s+([\\s\\S]*)$`, 'i').exec(s);
  if (m) {
    const [, db = '', name = '', rest = ''] = m;
    return [`CREATE VIEW IF NOT EXISTS ${db}.${name} ${on} ${rest}`];
  }
  m = new RegExp(`^ALTER\\s+TABLE\\s+${QUALIFIED}\\s+([\\s\\S]*)$`, 'i').exec(s);
  if (m) {
    const [, db = '', name = '', rest = ''] = m;
    if (!(name in SHARDED_TABLES)) return [s];
    // 18.16 runs no ON CLUSTER ALTER of a Distributed table over replicated shards; it holds no data
    // (inserts are synchronous in cluster mode), so it is created again on the altered local tables.
    return [
      `ALTER TABLE ${db}.${name}${LOCAL_SUFFIX} ${on} ${rest}`,
      `DROP TABLE IF EXISTS ${db}.${name} ${on}`,
      distributed(db, name, o.cluster),
    ];
  }
  m = new RegExp(`^DROP\\s+TABLE\\s+IF\\s+EXISTS\\s+${QUALIFIED}\\s*$`, 'i').exec(s);
  if (m) {
    const [, db = '', name = ''] = m;
    if (name in SHARDED_TABLES) throw new ClusterDdlError(`cluster mode does not drop data table ${name}`);
    return [`DROP TABLE IF EXISTS ${db}.${name} ${on}`];
  }
  m = /^CREATE\s+DATABASE\s+IF\s+NOT\s+EXISTS\s+(`(?:[^`\\]|\\.)+`)\s*$/i.exec(s);
  if (m) return [`CREATE DATABASE IF NOT EXISTS ${m[1]} ${on}`];
  // INSERT … SELECT (backfills) goes through the Distributed tables as written.
  if (/^INSERT\s+INTO\s/i.test(s)) return [s];
  throw new ClusterDdlError(`cluster mode does not know how to run this statement: ${s.slice(0, 200)}`);
}

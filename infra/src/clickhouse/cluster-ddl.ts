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
 * Everything else (databases, views, drops) runs ON CLUSTER. An ALTER of a sharded table does not
 * (18.16 cannot run it ON CLUSTER on replicated tables safely, see foldShardedAlters): it runs on
 * `<name>_local` on one server of each shard, ZooKeeper carries it to the other replicas, and the
 * Distributed table is created again from the new columns (`ShardAlter`, migrate.ts).
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

/**
 * An ALTER of a sharded table: migrate.ts runs `ALTER TABLE <db>.<name>_local <body>` on one server
 * of each shard, then rebuilds the Distributed table from the local table's new columns
 * (redistributeDdl).
 */
export interface ShardAlter {
  /** `db` as written (backquoted), `database` its name. */
  shardAlter: { db: string; database: string; name: string; body: string; cluster: string };
}

export type ClusterStatement = string | DistributedTable | ShardAlter;

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

/**
 * After an ALTER of `<name>_local`: the Distributed table dropped and created again from its columns.
 * 18.16 offers nothing better: `ALTER … ON CLUSTER` of a Distributed table is refused on a cluster
 * of replicated shards ("isn't replicated, but shard #2 is replicated"), and a RENAMEd Distributed
 * table keeps the folder of its first name, which later makes DROP DATABASE fail ("Directory not
 * empty"). Between the two statements (the DDL queue's latency, well under a second here) the table
 * is missing on a server: a sessionizer's insert is retried, a report answers 5xx.
 */
export function redistributeDdl(
  t: DistributedTable['distributed'],
  columns: readonly ColumnDescription[],
): string[] {
  return [
    `DROP TABLE IF EXISTS ${t.db}.${t.name} ON CLUSTER ${quoteIdent(t.cluster)}`,
    distributedDdl(t, columns),
  ];
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
    const [, db = '', name = '', body = ''] = m;
    if (!(name in SHARDED_TABLES)) return [s];
    // Not ON CLUSTER: replicated tables' ALTERs are unsafe there (foldShardedAlters).
    return [{ shardAlter: { db, database: unquote(db), name, body: body.trim(), cluster: o.cluster } }];
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

export interface PendingMigration {
  name: string;
  statements: string[];
}

interface ColumnLine {
  name: string;
  text: string;
}

/**
 * ClickHouse 18.16 cannot run `ALTER … ON CLUSTER` on replicated tables safely: two replicas of a
 * shard race to record the ALTER as executed, and the loser's DDL worker stops for good ("Node
 * exists … /executed"), after which every ON CLUSTER statement waits for it. So cluster mode alters a
 * sharded table on one server per shard (ShardAlter), and where it can avoids that altogether: an
 * ALTER made only of `ADD COLUMN`s of a table created in the same run (a database is created in
 * cluster mode with all its migrations at once) is folded into the CREATE, each column at the place
 * its AFTER names. Any other ALTER of a sharded table is left for ShardAlter. Pure; statements are
 * the single-node ones of readMigrations.
 */
export function foldShardedAlters(pending: readonly PendingMigration[]): PendingMigration[] {
  const out: { name: string; statements: (string | null)[] }[] = pending.map((m) => ({
    name: m.name,
    statements: [...m.statements],
  }));
  const creates = new Map<string, { m: number; s: number }>();
  const create = new RegExp(`^CREATE\\s+TABLE\\s+IF\\s+NOT\\s+EXISTS\\s+${QUALIFIED}`, 'i');
  const alter = new RegExp(`^ALTER\\s+TABLE\\s+${QUALIFIED}\\s+([\\s\\S]*)$`, 'i');
  out.forEach((m, mi) => {
    m.statements.forEach((statement, si) => {
      const text = statement?.trim() ?? '';
      const created = create.exec(text)?.[2];
      if (created && created in SHARDED_TABLES) creates.set(created, { m: mi, s: si });
      const a = alter.exec(text);
      const table = a?.[2];
      if (!a || !table || !(table in SHARDED_TABLES)) return;
      const at = creates.get(table);
      const target = at ? out[at.m] : undefined;
      const createText = at ? target?.statements[at.s] : undefined;
      if (!at || !target || !createText || addedColumns(a[3] ?? '') === null) return;
      target.statements[at.s] = addColumns(createText, a[3] ?? '', m.name);
      m.statements[si] = null;
    });
  });
  return out.map((m) => ({ name: m.name, statements: m.statements.filter((x): x is string => x !== null) }));
}

/** The clauses of an ALTER body: split at the commas outside parentheses and quotes. */
export function alterClauses(body: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = '';
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
    } else if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (c === ',' && depth === 0) {
      out.push(body.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(body.slice(start).trim());
  return out.filter((c) => c.length > 0);
}

const ADD_COLUMN = /^ADD\s+COLUMN\s+([A-Za-z_][A-Za-z0-9_]*)\s/i;

/** The columns an ALTER body adds, when it is made of ADD COLUMNs alone; else null. */
export function addedColumns(body: string): string[] | null {
  const names = alterClauses(body).map((c) => ADD_COLUMN.exec(`${c} `)?.[1]);
  return names.length > 0 && names.every((n) => n !== undefined) ? (names as string[]) : null;
}

/** Whether an ALTER body changes the table's columns (so its Distributed table must follow). */
export function changesColumns(body: string): boolean {
  return alterClauses(body).some((c) => /^(ADD|DROP|MODIFY)\s+COLUMN\s/i.test(c));
}

/**
 * Where an ALTER of a sharded table runs: the servers given (MigrateOptions.shardUrls), else
 * STINT_CLICKHOUSE_SHARD_URLS (comma-separated), else the first replica of each shard in
 * `system.clusters` at the port and credentials of CLICKHOUSE_URL.
 */
export function shardUrlCandidates(o: {
  given?: readonly string[] | undefined;
  env?: string | undefined;
  hosts: readonly string[];
  clickhouseUrl: string;
}): string[] {
  if (o.given?.length) return [...o.given];
  const fromEnv = (o.env ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u.length > 0);
  if (fromEnv.length > 0) return fromEnv;
  return o.hosts.map((host) => {
    const u = new URL(o.clickhouseUrl);
    u.hostname = host;
    return u.toString().replace(/\/$/, '');
  });
}

function addColumns(create: string, alterBody: string, migration: string): string {
  const open = create.indexOf('(');
  const engine = create.search(/\n\)\s*\nENGINE\s*=/);
  if (open < 0 || engine < 0)
    throw new ClusterDdlError(`cannot find the column list to fold ${migration} into`);
  const columns: ColumnLine[] = create
    .slice(open + 1, engine)
    .split('\n')
    .map((l) => l.trim().replace(/,$/, ''))
    .filter((l) => l.length > 0)
    .map((text) => ({ name: text.split(/\s+/)[0] ?? '', text }));
  for (const clause of alterClauses(alterBody)) {
    const def = clause.replace(/^ADD\s+COLUMN\s+/i, '').trim();
    const after = /\s+AFTER\s+([A-Za-z_][A-Za-z0-9_]*)$/i.exec(def);
    const text = after ? def.slice(0, after.index).trim() : def;
    const column = { name: text.split(/\s+/)[0] ?? '', text };
    const at = after ? columns.findIndex((c) => c.name === after[1]) : -1;
    if (after && at < 0)
      throw new ClusterDdlError(`${migration}: no column ${after[1]} to add ${column.name} after`);
    columns.splice(after ? at + 1 : columns.length, 0, column);
  }
  return `${create.slice(0, open + 1)}\n${columns.map((c) => `    ${c.text}`).join(',\n')}${create.slice(engine)}`;
}

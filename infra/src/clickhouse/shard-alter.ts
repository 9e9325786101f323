/**
 * ShardAlter (cluster-ddl.ts) against the servers: an ALTER of a sharded table of an existing
 * cluster database runs on `<name>_local` on one server of each shard (ZooKeeper carries it to the
 * other replicas), then the Distributed table is created again from the new columns when they
 * changed. The servers are proven first to hold one replica of every shard of this very table
 * (their ZooKeeper paths), or nothing is altered. A run that stopped half-way can be run again: a
 * shard whose table already has the columns an ADD COLUMN names is skipped, and the Distributed
 * table is created whenever it is missing.
 */
import type { ClickHouseClient } from './client.ts';
import { clickhouseUrl, createMigrationClient, exec, queryRows } from './client.ts';
import {
  addedColumns,
  type ColumnDescription,
  changesColumns,
  LOCAL_SUFFIX,
  redistributeDdl,
  type ShardAlter,
  shardUrlCandidates,
} from './cluster-ddl.ts';
import { sql } from './quote.ts';

export class ShardAlterError extends Error {}

interface ShardServer {
  where: string;
  zkPath: string;
  client: ClickHouseClient;
}

const HINT =
  'set STINT_CLICKHOUSE_SHARD_URLS to one server of each shard (comma-separated http://user:password@host:port)';

export async function alterOnShards(
  client: ClickHouseClient,
  a: ShardAlter['shardAlter'],
  given: readonly string[] | undefined,
  log: (m: string) => void,
): Promise<void> {
  const table = `${a.name}${LOCAL_SUFFIX}`;
  const local = `${a.db}.${table}`;
  const servers = await shardServers(client, a, given);
  const added = addedColumns(a.body);
  const done: string[] = [];
  try {
    for (const s of servers) {
      if (added && (await hasColumns(s.client, a.database, table, added))) {
        log(`${local} on ${s.where} (${s.zkPath}) has ${added.join(', ')} already`);
        continue;
      }
      log(`altering ${local} on ${s.where} (${s.zkPath})`);
      try {
        await exec(s.client, `ALTER TABLE ${local} ${a.body}`);
      } catch (err) {
        throw new ShardAlterError(
          `ALTER of ${local} failed on ${s.where} (${(err as Error).message.split('\n')[0]}); ${
            done.length ? `already altered: ${done.join(', ')}` : 'no shard was altered'
          }. A run after the cause is fixed skips the shards that have the added columns.`,
        );
      }
      done.push(s.where);
    }
    const missing = !(await exists(client, a.database, a.name));
    if (changesColumns(a.body) || missing) {
      const first = servers[0]?.client ?? client;
      const columns = await queryRows<ColumnDescription>(first, `DESCRIBE TABLE ${local}`);
      for (const statement of redistributeDdl({ db: a.db, name: a.name, cluster: a.cluster }, columns)) {
        await exec(client, statement);
      }
    }
  } finally {
    await Promise.all(servers.map((s) => s.client.close()));
  }
}

async function hasColumns(c: ClickHouseClient, database: string, table: string, names: string[]) {
  const rows = await queryRows<{ name: string }>(
    c,
    sql`SELECT name FROM system.columns WHERE database = ${database} AND table = ${table}`,
  );
  const have = new Set(rows.map((r) => r.name));
  return names.every((n) => have.has(n));
}

async function exists(c: ClickHouseClient, database: string, table: string): Promise<boolean> {
  const rows = await queryRows<{ n: string }>(
    c,
    sql`SELECT count() AS n FROM system.tables WHERE database = ${database} AND name = ${table}`,
  );
  return Number(rows[0]?.n) > 0;
}

async function replicaPath(c: ClickHouseClient, database: string, table: string): Promise<string> {
  const rows = await queryRows<{ p: string }>(
    c,
    sql`SELECT zookeeper_path AS p FROM system.replicas WHERE database = ${database} AND table = ${table}`,
  );
  return rows[0]?.p ?? '';
}

/**
 * The table's ZooKeeper path on every shard (`/clickhouse/tables/<shard>/<db>.<table>`, cluster-ddl.ts),
 * read from ZooKeeper through the server the migrations talk to.
 */
async function shardPaths(client: ClickHouseClient, database: string, table: string): Promise<string[]> {
  const own = await replicaPath(client, database, table);
  const m = /^(.*)\/[^/]+\/([^/]+)$/.exec(own);
  if (!m) throw new ShardAlterError(`${database}.${table} is not a replicated table on this server`);
  const [, root = '', leaf = ''] = m;
  const shards = await queryRows<{ name: string }>(
    client,
    sql`SELECT name FROM system.zookeeper WHERE path = ${root}`,
  );
  const paths: string[] = [];
  for (const { name } of shards) {
    const children = await queryRows<{ name: string }>(
      client,
      sql`SELECT name FROM system.zookeeper WHERE path = ${`${root}/${name}`}`,
    );
    if (children.some((c) => c.name === leaf)) paths.push(`${root}/${name}/${leaf}`);
  }
  return paths.sort();
}

async function shardServers(
  client: ClickHouseClient,
  a: ShardAlter['shardAlter'],
  given: readonly string[] | undefined,
): Promise<ShardServer[]> {
  const table = `${a.name}${LOCAL_SUFFIX}`;
  const expected = await shardPaths(client, a.database, table);
  const hosts = await queryRows<{ host_name: string }>(
    client,
    sql`SELECT host_name FROM system.clusters WHERE cluster = ${a.cluster} AND replica_num = 1 ORDER BY shard_num`,
  );
  const urls = shardUrlCandidates({
    given,
    env: process.env.STINT_CLICKHOUSE_SHARD_URLS,
    hosts: hosts.map((h) => h.host_name),
    clickhouseUrl: clickhouseUrl(),
  });
  const servers: ShardServer[] = [];
  const close = () => Promise.all(servers.map((s) => s.client.close()));
  try {
    for (const url of urls) {
      const u = new URL(url);
      const server: ShardServer = {
        where: `${u.hostname}:${u.port}`,
        zkPath: '',
        client: createMigrationClient({ url }),
      };
      servers.push(server);
      server.zkPath = await replicaPath(server.client, a.database, table);
    }
  } catch (err) {
    await close();
    throw new ShardAlterError(
      `cannot reach a server of each shard to alter ${a.database}.${table} (${(err as Error).message.split('\n')[0]}): ${HINT}; nothing was altered`,
    );
  }
  const got = servers.map((s) => s.zkPath).sort();
  if (got.join('\n') !== expected.join('\n')) {
    await close();
    throw new ShardAlterError(
      `an ALTER of ${a.database}.${table} runs on one server of each of its ${expected.length} shards (${expected.join(', ')}), but ${servers
        .map((s) => `${s.where} holds ${s.zkPath || 'no replica of it'}`)
        .join(', ')}: ${HINT}; nothing was altered`,
    );
  }
  return servers;
}

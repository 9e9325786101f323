import type { ClickHouseClient } from './client.ts';
import { exec, queryRows } from './client.ts';
import {
  type ColumnDescription,
  clusterStatements,
  distributedDdl,
  foldShardedAlters,
  LOCAL_SUFFIX,
} from './cluster-ddl.ts';
import { type Migration, readMigrations } from './migrations.ts';
import { ident, raw, sql } from './quote.ts';
import { alterOnShards } from './shard-alter.ts';

export class MigrationError extends Error {}

export interface MigrateOptions {
  /** Any client; the runner qualifies every name with `database`. */
  client: ClickHouseClient;
  database: string;
  dir?: string;
  log?: (message: string) => void;
  /**
   * Cluster mode (cluster-ddl.ts): the name of a cluster in the servers' `remote_servers`. Default
   * STINT_CLICKHOUSE_CLUSTER; unset or empty is single-node mode.
   */
  cluster?: string;
  /**
   * Cluster mode: one server of each shard (`http://user:password@host:port`), where an ALTER of a
   * sharded table runs. Default STINT_CLICKHOUSE_SHARD_URLS (comma-separated), else the first replica
   * of each shard in `system.clusters` at CLICKHOUSE_URL's port and credentials. Checked against the
   * table's ZooKeeper paths before anything is altered (shard-alter.ts).
   */
  shardUrls?: readonly string[];
}

export interface MigrateResult {
  applied: string[];
  skipped: string[];
}

/**
 * Applies the migrations not yet recorded in `<database>.schema_migrations`, in order. Safe to run
 * twice; refuses to go on when an applied migration's file has changed since (fix forward instead).
 */
export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  const { client, database } = options;
  const cluster = options.cluster ?? process.env.STINT_CLICKHOUSE_CLUSTER ?? '';
  const log = options.log ?? (() => {});
  const db = ident(database);
  if (cluster) await checkCluster(client, cluster);
  await checkMode(client, database, cluster);
  const run = async (statement: string) => {
    for (const s of cluster ? clusterStatements(statement, { cluster }) : [statement]) {
      if (typeof s === 'string') await exec(client, s);
      else if ('shardAlter' in s) await alterOnShards(client, s.shardAlter, options.shardUrls, log);
      else {
        const local = raw(`${s.distributed.db}.${s.distributed.name}${LOCAL_SUFFIX}`);
        const columns = await queryRows<ColumnDescription>(client, sql`DESCRIBE TABLE ${local}`);
        await exec(client, distributedDdl(s.distributed, columns));
      }
    }
  };
  await run(String(sql`CREATE DATABASE IF NOT EXISTS ${db}`));
  await run(
    String(sql`CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (name String, checksum String, applied_at DateTime)
        ENGINE = MergeTree ORDER BY name`),
  );
  const done = new Map(
    (
      await queryRows<{ name: string; checksum: string }>(
        client,
        sql`SELECT name, checksum FROM ${db}.schema_migrations`,
      )
    ).map((r) => [r.name, r.checksum]),
  );
  const all: Migration[] = readMigrations(database, options.dir);
  // Cluster mode folds the pending ADD COLUMNs of sharded tables into their CREATEs (cluster-ddl.ts).
  const folded = cluster
    ? new Map(
        foldShardedAlters(all.filter((m) => !done.has(m.name))).map((m) => [m.name, m.statements] as const),
      )
    : new Map<string, string[]>();
  const migrations = all.map((m) => ({ ...m, statements: folded.get(m.name) ?? m.statements }));
  const result: MigrateResult = { applied: [], skipped: [] };
  for (const m of migrations) {
    const recorded = done.get(m.name);
    if (recorded !== undefined) {
      if (recorded !== m.checksum) {
        throw new MigrationError(
          `migration ${m.name} was changed after it was applied to ${database}; write a new migration instead`,
        );
      }
      result.skipped.push(m.name);
      continue;
    }
    log(`applying ${m.name}`);
    for (const statement of m.statements) {
      try {
        await run(statement);
      } catch (err) {
        throw new MigrationError(`migration ${m.name} failed: ${(err as Error).message}\n${statement}`);
      }
    }
    await exec(
      client,
      sql`INSERT INTO ${db}.schema_migrations (name, checksum, applied_at) VALUES (${m.name}, ${m.checksum}, ${new Date()})`,
    );
    result.applied.push(m.name);
  }
  return result;
}

/** The cluster must be one the server knows, and the server must reach ZooKeeper. */
async function checkCluster(client: ClickHouseClient, cluster: string): Promise<void> {
  const known = await queryRows<{ cluster: string; hosts: number | string }>(
    client,
    sql`SELECT cluster, count() AS hosts FROM system.clusters GROUP BY cluster ORDER BY cluster`,
  );
  if (!known.some((k) => k.cluster === cluster)) {
    throw new MigrationError(
      `cluster ${JSON.stringify(cluster)} (STINT_CLICKHOUSE_CLUSTER) is not in this server's remote_servers; it knows ${
        known.map((k) => `${k.cluster} (${k.hosts} hosts)`).join(', ') || 'no cluster'
      }`,
    );
  }
  try {
    await queryRows(client, sql`SELECT name FROM system.zookeeper WHERE path = '/' LIMIT 1`);
  } catch (err) {
    throw new MigrationError(
      `cluster mode needs ZooKeeper, and this ClickHouse server cannot use it (its <zookeeper> config, or ZooKeeper is down): ${(err as Error).message.split('\n')[0]}`,
    );
  }
}

/** A database migrated in one mode is never migrated in the other. */
async function checkMode(client: ClickHouseClient, database: string, cluster: string): Promise<void> {
  const rows = await queryRows<{ name: string; engine: string }>(
    client,
    sql`SELECT name, engine FROM system.tables WHERE database = ${database} AND name IN ('sessions_raw', ${`sessions_raw${LOCAL_SUFFIX}`})`,
  );
  const engine = rows.find((r) => r.name === 'sessions_raw')?.engine;
  if (engine === undefined) return;
  if (!cluster && engine === 'Distributed') {
    throw new MigrationError(
      `database ${database} was migrated in cluster mode (sessions_raw is Distributed): set STINT_CLICKHOUSE_CLUSTER to its cluster's name`,
    );
  }
  if (cluster && engine !== 'Distributed') {
    throw new MigrationError(
      `database ${database} was migrated in single-node mode (sessions_raw is ${engine}); cluster mode needs a new database (CLICKHOUSE_DATABASE) or unset STINT_CLICKHOUSE_CLUSTER`,
    );
  }
}

/** Drops a database in the mode it was migrated in (ON CLUSTER in cluster mode). */
export async function dropDatabase(
  client: ClickHouseClient,
  database: string,
  cluster = process.env.STINT_CLICKHOUSE_CLUSTER ?? '',
): Promise<void> {
  const statement = String(sql`DROP DATABASE IF EXISTS ${ident(database)}`);
  await exec(client, cluster ? `${statement} ON CLUSTER ${ident(cluster)}` : statement);
}

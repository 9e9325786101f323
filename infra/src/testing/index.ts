/**
 * Guard rails for tests against the real servers: every test gets its own freshly migrated
 * `stint_test_*` database and its own Kafka topic, so test files can run side by side.
 */
import { randomBytes } from 'node:crypto';
import { type ClickHouseClient, createClickHouse, createMigrationClient } from '../clickhouse/client.ts';
import { dropDatabase, migrate } from '../clickhouse/migrate.ts';
import { recordedClickHouseCluster, shardUrls } from '../stack/index.ts';

export interface TestDatabase {
  database: string;
  /** The cluster it was migrated for ('' for single-node mode). */
  cluster: string;
  /** A client whose default database is the test database. */
  client: ClickHouseClient;
  drop: () => Promise<void>;
}

function suffix(): string {
  return `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

function label(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 30);
}

/**
 * `cluster`: the migrations' mode (default STINT_CLICKHOUSE_CLUSTER; '' is single-node, which on a
 * cluster's server gives a plain single-node database beside the cluster's).
 */
export async function createTestDatabase(
  name: string,
  options: { cluster?: string } = {},
): Promise<TestDatabase> {
  const database = `stint_test_${label(name)}_${suffix()}`;
  const cluster = options.cluster ?? process.env.STINT_CLICKHOUSE_CLUSTER ?? '';
  const admin = createMigrationClient();
  try {
    // The local cluster's shards, unless the servers are others (as in infra/src/cli/stack.ts).
    const external = process.env.CLICKHOUSE_URL || process.env.STINT_CLICKHOUSE_SHARD_URLS;
    const layout = cluster && !external ? recordedClickHouseCluster() : null;
    await migrate({
      client: admin,
      database,
      cluster,
      ...(layout?.name === cluster ? { shardUrls: shardUrls(layout) } : {}),
    });
  } finally {
    await admin.close();
  }
  const client = createClickHouse({ database });
  return {
    database,
    cluster,
    client,
    drop: async () => {
      if (!database.startsWith('stint_test_')) throw new Error(`refusing to drop ${database}`);
      await dropDatabase(client, database, cluster);
      await client.close();
    },
  };
}

export function uniqueTopic(name: string): string {
  return `test.${label(name)}.${suffix()}`;
}

/** Polls `fn` until it returns a value that is not undefined/false, or throws after the timeout. */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  options: { timeoutMs?: number; intervalMs?: number; message?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(
        `${options.message ?? 'condition not met'} within ${options.timeoutMs ?? 10_000} ms${why}`,
      );
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
}
export { Random } from './random.ts';

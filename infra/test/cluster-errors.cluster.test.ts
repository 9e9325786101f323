/**
 * Bad input and faults of cluster mode end in a clear error: a cluster name the servers do not know,
 * ZooKeeper down when migrations run (the library, `stint migrate` and `stint start` against an
 * existing cluster), and a ZooKeeper port that is taken at `stack up`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createMigrationClient, exec, migrate, queryRows } from '../src/clickhouse/index.ts';
import { REPO_ROOT, recordedClickHouseCluster, zookeeperDown, zookeeperUp } from '../src/stack/index.ts';
import { waitFor } from '../src/testing/index.ts';

const log = (m: string) => process.stderr.write(`${m}\n`);
const client = createMigrationClient();
const database = `stint_test_cluster_errors_${Date.now().toString(36)}`;

afterAll(async () => {
  await zookeeperUp(log);
  await client.close();
});

describe('cluster mode errors', () => {
  it('a cluster name the servers do not know is refused, naming the clusters they know', async () => {
    await expect(migrate({ client, database, cluster: 'no_such_cluster' })).rejects.toThrow(
      /cluster "no_such_cluster" \(STINT_CLICKHOUSE_CLUSTER\) is not in this server's remote_servers; it knows .*stint_cluster \(4 hosts\)/,
    );
    const made = await queryRows(client, `SELECT name FROM system.databases WHERE name = '${database}'`);
    expect(made).toEqual([]);
  });

  it('ZooKeeper down: migrations stop at once with the reason, and work again once it is back', async () => {
    const cluster = recordedClickHouseCluster()?.name;
    if (!cluster) throw new Error('no local ClickHouse cluster: `npm run test:cluster` starts it');
    await zookeeperDown();
    await expect(migrate({ client, database, cluster })).rejects.toThrow(
      /cluster mode needs ZooKeeper.*ZooKeeper/,
    );
    // The same through the commands an operator runs against an existing cluster (CLICKHOUSE_URL set,
    // so nothing local is started): `stint migrate` and `stint start` stop with the reason, exit 1,
    // and `stint start` starts no service.
    const home = mkdtempSync(join(tmpdir(), 'stint-cluster-zk-down-'));
    const collectorPort = 28301;
    const env = {
      ...process.env,
      STINT_HOME: home,
      CLICKHOUSE_URL:
        process.env.CLICKHOUSE_URL ?? `http://127.0.0.1:${recordedClickHouseCluster()?.nodes[0]?.http}`,
      STINT_CLICKHOUSE_CLUSTER: cluster,
      CLICKHOUSE_DATABASE: database,
      KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:19092',
      API_PORT: '28300',
      COLLECTOR_PORT: String(collectorPort),
      SESSIONIZER_PORT: '28302',
    };
    try {
      for (const args of [['migrate'], ['start']]) {
        const r = spawnSync(process.execPath, ['infra/bin/stint.js', ...args], {
          cwd: REPO_ROOT,
          env,
          encoding: 'utf8',
          timeout: 120_000,
        });
        expect(r.status, `stint ${args.join(' ')}: ${r.stderr}`).toBe(1);
        expect(r.stderr).toMatch(/cluster mode needs ZooKeeper.*ZooKeeper/);
      }
      const listening = await fetch(`http://127.0.0.1:${collectorPort}/healthz`).then(
        () => true,
        () => false,
      );
      expect(listening).toBe(false);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
    await zookeeperUp(log);
    // The servers open new ZooKeeper sessions on their own (the old ones expired with it); within a
    // minute the same migration goes through.
    let last = '';
    await waitFor(
      async () => {
        try {
          await migrate({ client, database, cluster });
          return true;
        } catch (err) {
          last = (err as Error).message;
          return false;
        }
      },
      { timeoutMs: 90_000, intervalMs: 2000, message: 'migrations working again after ZooKeeper came back' },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last error: ${last}`);
    });
    await exec(client, `DROP DATABASE IF EXISTS ${database} ON CLUSTER ${cluster}`);
  });

  it('`stint stack up --clickhouse-cluster` with the ZooKeeper port taken says so and starts nothing', async () => {
    const home = mkdtempSync(join(tmpdir(), 'stint-cluster-errors-'));
    const taken: Server = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = spawnSync(
        process.execPath,
        ['infra/bin/stint.js', 'stack', 'up', '--clickhouse-cluster', '2x1'],
        {
          cwd: REPO_ROOT,
          env: {
            ...process.env,
            STINT_HOME: home,
            STINT_ZOOKEEPER_PORT: String(port),
            STINT_CLICKHOUSE_HTTP_PORT: '28123',
            STINT_CLICKHOUSE_TCP_PORT: '29000',
            // Kafka is external here: only ClickHouse's side starts.
            KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:19092',
          },
          encoding: 'utf8',
          timeout: 120_000,
        },
      );
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(`port ${port} (ZooKeeper) is taken by another process`);
      const started = await fetch('http://127.0.0.1:28123/ping').then(
        () => true,
        () => false,
      );
      expect(started).toBe(false);
    } finally {
      taken.close();
      rmSync(home, { recursive: true, force: true });
    }
  });
});

import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { createMigrationClient } from '../clickhouse/client.ts';
import { migrate } from '../clickhouse/migrate.ts';
import {
  clickhouseVersion,
  clusterReplication,
  kafkaVersion,
  PORTS,
  recordedClickHouseCluster,
  shardUrls,
  stackDown,
  stackLogs,
  stackStatus,
  stackUp,
  stintHome,
  type UpResult,
} from '../stack/index.ts';

const say = (m: string) => process.stderr.write(`stint: ${m}\n`);

export interface UpOptions {
  kafkaBrokers?: string;
  clickhouseCluster?: string | boolean;
}

export async function upAndMigrate(options: UpOptions = {}): Promise<UpResult> {
  const r = await up(options);
  await runMigrations(undefined, r.clickhouseCluster?.name);
  return r;
}

function kafkaLine(r: UpResult): string {
  if (r.kafka === 'external') return `Kafka external (${process.env.KAFKA_BROKERS})`;
  if (r.kafkaBrokers === 1) return `Kafka ${kafkaVersion()} ${r.kafka} on 127.0.0.1:${PORTS.kafka}`;
  const { replicationFactor, minInsync } = clusterReplication(r.kafkaBrokers);
  return `Kafka ${kafkaVersion()} cluster ${r.kafka}: ${r.kafkaBrokers} brokers ${r.kafkaBootstrap} + controller 127.0.0.1:${PORTS.kafkaController} (topics: replication factor ${replicationFactor}, min.insync.replicas ${minInsync}; KAFKA_BROKERS=${r.kafkaBootstrap})`;
}

function clickhouseLine(r: UpResult, version: string): string {
  if (r.clickhouse === 'external') return 'ClickHouse external';
  const c = r.clickhouseCluster;
  if (!c) return `ClickHouse ${version} ${r.clickhouse} on http://127.0.0.1:${PORTS.clickhouseHttp}`;
  const first = c.nodes[0];
  return `ClickHouse ${version} cluster ${c.name} ${r.clickhouse}: ${c.shards} shards x ${c.replicas} replicas (${c.nodes
    .map((n) => `${n.name} :${n.http}`)
    .join(
      ', ',
    )}) + ZooKeeper 127.0.0.1:${c.zookeeperPort} (CLICKHOUSE_URL=http://127.0.0.1:${first?.http} STINT_CLICKHOUSE_CLUSTER=${c.name})`;
}

async function up(options: UpOptions): Promise<UpResult> {
  const r = await stackUp(say, options);
  say(`${kafkaLine(r)}; ${clickhouseLine(r, await clickhouseVersion())} (${(r.ms / 1000).toFixed(1)} s)`);
  return r;
}

export async function runMigrations(
  database = process.env.CLICKHOUSE_DATABASE || 'stint',
  cluster = process.env.STINT_CLICKHOUSE_CLUSTER || '',
): Promise<void> {
  const client = createMigrationClient();
  // The local cluster's shards listen on ports of their own: an ALTER of a sharded table finds them here.
  const layout = process.env.CLICKHOUSE_URL ? null : recordedClickHouseCluster();
  const local = layout?.name === cluster && !process.env.STINT_CLICKHOUSE_SHARD_URLS ? layout : null;
  try {
    const res = await migrate({
      client,
      database,
      cluster,
      ...(local ? { shardUrls: shardUrls(local) } : {}),
      log: (m) => say(`${database}: ${m}`),
    });
    say(
      `migrations: ${res.applied.length} applied, ${res.skipped.length} already applied (database ${database})`,
    );
  } finally {
    await client.close();
  }
}

export function registerStackCommands(program: Command): void {
  const stack = program.command('stack').description('the local Kafka + ClickHouse stack (state in .stint/)');
  stack
    .command('up')
    .description('start Kafka and ClickHouse if they are not running, wait until ready, run migrations')
    .option('--no-migrate', 'do not run migrations')
    .option(
      '--kafka-brokers <n>',
      'local Kafka brokers: 1 = the single node (default), 2-9 = a KRaft cluster (one controller + n brokers); env STINT_KAFKA_BROKER_COUNT',
    )
    .option(
      '--clickhouse-cluster [SxR]',
      'run ClickHouse as a local cluster: ZooKeeper + SHARDS x REPLICAS servers (default 2x2), migrations in cluster mode',
    )
    .action(
      async (opts: { migrate: boolean; kafkaBrokers?: string; clickhouseCluster?: string | boolean }) => {
        const options: UpOptions = {};
        if (opts.kafkaBrokers !== undefined) options.kafkaBrokers = opts.kafkaBrokers;
        if (opts.clickhouseCluster !== undefined) options.clickhouseCluster = opts.clickhouseCluster;
        if (opts.migrate) await upAndMigrate(options);
        else await up(options);
      },
    );
  stack
    .command('down')
    .description(
      'stop Kafka and ClickHouse (the single nodes or every node of the local clusters, and ZooKeeper; data is kept)',
    )
    .action(async () => {
      const r = await stackDown();
      say(
        `Kafka ${r.kafka ? 'stopped' : 'was not running'}; ClickHouse ${r.clickhouse ? 'stopped' : 'was not running'}; data kept in ${stintHome()}`,
      );
    });
  stack
    .command('status')
    .description('show what is running')
    .action(async () => {
      process.stdout.write(`${JSON.stringify(await stackStatus(), null, 2)}\n`);
    });
  stack
    .command('logs')
    .description("print the servers' log files (tail -f with --follow)")
    .option('-f, --follow', 'keep following')
    .option('-n, --lines <n>', 'lines per file', '40')
    .action(async (opts: { follow?: boolean; lines: string }) => {
      const files = Object.values(stackLogs());
      const child = spawn('tail', ['-n', opts.lines, ...(opts.follow ? ['-F'] : []), ...files], {
        stdio: 'inherit',
      });
      await new Promise((r) => child.on('exit', r));
    });
  program
    .command('migrate')
    .description('apply ClickHouse migrations (safe to run twice)')
    .option('--database <name>', 'database', process.env.CLICKHOUSE_DATABASE || 'stint')
    .option(
      '--cluster <name>',
      'cluster mode on this cluster (default STINT_CLICKHOUSE_CLUSTER, else the local cluster when it runs)',
    )
    .action(async (opts: { database: string; cluster?: string }) => {
      const local = process.env.CLICKHOUSE_URL ? null : (await stackStatus()).clickhouse;
      const running = local && 'cluster' in local ? local.cluster?.name : undefined;
      await runMigrations(
        opts.database,
        opts.cluster ?? process.env.STINT_CLICKHOUSE_CLUSTER ?? running ?? '',
      );
    });
}

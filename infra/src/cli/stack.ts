import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { createClickHouse } from '../clickhouse/client.ts';
import { migrate } from '../clickhouse/migrate.ts';
import {
  clickhouseVersion,
  kafkaVersion,
  PORTS,
  stackDown,
  stackLogs,
  stackStatus,
  stackUp,
  stintHome,
} from '../stack/index.ts';

const say = (m: string) => process.stderr.write(`stint: ${m}\n`);

export async function upAndMigrate(): Promise<void> {
  const r = await stackUp(say);
  say(
    `Kafka ${r.kafka === 'external' ? `external (${process.env.KAFKA_BROKERS})` : `${kafkaVersion()} ${r.kafka} on 127.0.0.1:${PORTS.kafka}`}; ClickHouse ${
      r.clickhouse === 'external'
        ? 'external'
        : `${await clickhouseVersion()} ${r.clickhouse} on http://127.0.0.1:${PORTS.clickhouseHttp}`
    } (${(r.ms / 1000).toFixed(1)} s)`,
  );
  await runMigrations();
}

export async function runMigrations(database = process.env.CLICKHOUSE_DATABASE || 'stint'): Promise<void> {
  const client = createClickHouse({ database: 'default' });
  try {
    const res = await migrate({ client, database, log: (m) => say(`${database}: ${m}`) });
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
    .action(async (opts: { migrate: boolean }) => {
      if (opts.migrate) await upAndMigrate();
      else await stackUp(say);
    });
  stack
    .command('down')
    .description('stop Kafka and ClickHouse (data is kept)')
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
    .action(async (opts: { database: string }) => runMigrations(opts.database));
}

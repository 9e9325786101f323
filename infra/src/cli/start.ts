/**
 * `stint start` (what `npm start` runs): stack up, migrate, then run every service that exists so far
 * as a child process, print where everything is, and stop them all in order on Ctrl-C / SIGTERM.
 * A second `stint start` while one runs says so and exits 0.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { PORTS, REPO_ROOT, serviceNodeFlags, stintHome } from '../stack/index.ts';
import { isAlive } from '../stack/process.ts';
import { upAndMigrate } from './stack.ts';

export const SERVICE_PORTS = {
  api: Number(process.env.API_PORT || 8300),
  collector: Number(process.env.COLLECTOR_PORT || 8301),
  sessionizer: Number(process.env.SESSIONIZER_PORT || 8302),
};

interface ServiceSpec {
  name: keyof typeof SERVICE_PORTS;
  entry: string;
}

const SERVICES: ServiceSpec[] = [
  { name: 'sessionizer', entry: 'sessionizer/src/main.ts' },
  { name: 'collector', entry: 'collector/src/main.ts' },
  { name: 'api', entry: 'api/src/main.ts' },
];

function runFile() {
  return `${stintHome()}/run/start.json`;
}

/**
 * The metrics port of sessionizer instance `i` (0-based): the first one on SESSIONIZER_PORT, the
 * others 10 apart, clear of the api's and collector's ports beside it.
 */
export function sessionizerPort(i: number): number {
  return SERVICE_PORTS.sessionizer + 10 * i;
}

function urls(sessionizers = 1, collectors = 1): string[] {
  const metrics = Array.from(
    { length: sessionizers },
    (_, i) => `http://127.0.0.1:${sessionizerPort(i)}/metrics`,
  );
  return [
    `dashboard + api  http://127.0.0.1:${SERVICE_PORTS.api}/  (OpenAPI at /docs)`,
    `collector        http://127.0.0.1:${SERVICE_PORTS.collector}/  (snippet at /stint.js${collectors > 1 ? `; ${collectors} processes on this port, /metrics aggregated` : ''})`,
    `sessionizer      ${metrics.join(', ')}${sessionizers > 1 ? ` (${sessionizers} instances, one consumer group)` : ''}`,
    `ClickHouse       ${process.env.CLICKHOUSE_URL || `http://127.0.0.1:${PORTS.clickhouseHttp}`}  (analyst views: stint.sessions, stint.events, stint.pageviews)`,
    `Kafka            ${process.env.KAFKA_BROKERS || `127.0.0.1:${PORTS.kafka}`}  (topic ${process.env.EVENTS_TOPIC || 'stint.events'})`,
  ];
}

/** The `stint start` running now for this STINT_HOME (from its run file), if any. */
export function alreadyRunning(): { pid: number; sessionizers: number; collectors: number } | null {
  const file = runFile();
  if (!existsSync(file)) return null;
  try {
    const { pid, sessionizers, collectors } = JSON.parse(readFileSync(file, 'utf8')) as {
      pid: number;
      sessionizers?: number;
      collectors?: number;
    };
    return isAlive(pid) ? { pid, sessionizers: sessionizers ?? 1, collectors: collectors ?? 1 } : null;
  } catch {
    return null;
  }
}

export interface StartOptions {
  demo: boolean;
  demoRate: string;
  /** Sessionizer processes, members of one consumer group sharing the topic's partitions. */
  sessionizers: number;
  /**
   * Collector processes: node:cluster workers sharing the collector's port (collector/src/cluster.ts),
   * salts shared through ClickHouse, /metrics aggregated, the rate limit split between them.
   */
  collectors: number;
}

export async function startAll(options: StartOptions): Promise<void> {
  const running = alreadyRunning();
  if (running) {
    process.stderr.write(
      `stint is already running (pid ${running.pid}):\n${urls(running.sessionizers, running.collectors)
        .map((u) => `  ${u}`)
        .join('\n')}\n`,
    );
    return;
  }
  const stack = await upAndMigrate();
  // The services (children) get every broker of a local cluster, so one starts even while broker 1 is down.
  if (stack.kafka !== 'external' && stack.kafkaBrokers > 1) process.env.KAFKA_BROKERS = stack.kafkaBootstrap;
  // A local ClickHouse cluster: the services write and read through its Distributed tables.
  if (stack.clickhouseCluster) process.env.STINT_CLICKHOUSE_CLUSTER = stack.clickhouseCluster.name;
  mkdirSync(`${stintHome()}/run`, { recursive: true });
  writeFileSync(
    runFile(),
    JSON.stringify({
      pid: process.pid,
      started: new Date().toISOString(),
      sessionizers: options.sessionizers,
      collectors: options.collectors,
    }),
  );

  const tsx = `${REPO_ROOT}/node_modules/.bin/tsx`;
  // The dashboard's static files are built ahead of time; the api serves dashboards/dist.
  if (existsSync(`${REPO_ROOT}/dashboards/build.ts`)) {
    const built = spawnSync(tsx, [`${REPO_ROOT}/dashboards/build.ts`], { cwd: REPO_ROOT, stdio: 'inherit' });
    if (built.status !== 0) throw new Error('building the dashboard failed (dashboards/build.ts)');
  }
  const children: { name: string; child: ChildProcess }[] = [];
  for (const s of SERVICES) {
    if (!existsSync(`${REPO_ROOT}/${s.entry}`)) continue;
    const flags = serviceNodeFlags(s.name).join(' ');
    const copies = s.name === 'sessionizer' ? options.sessionizers : 1;
    for (let i = 0; i < copies; i++) {
      const child = spawn(tsx, [`${REPO_ROOT}/${s.entry}`], {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'inherit', 'inherit'],
        env: {
          ...process.env,
          // tsx runs the service in a node child process, which takes these from NODE_OPTIONS.
          ...(flags ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${flags}`.trim() } : {}),
          API_PORT: String(SERVICE_PORTS.api),
          COLLECTOR_PORT: String(SERVICE_PORTS.collector),
          SESSIONIZER_PORT: String(sessionizerPort(i)),
          SESSIONIZER_METRICS_PORT: String(sessionizerPort(i)),
          COLLECTOR_URL: `http://127.0.0.1:${SERVICE_PORTS.collector}`,
          ...(s.name === 'collector' ? { COLLECTOR_PROCESSES: String(options.collectors) } : {}),
        },
      });
      children.push({ name: copies > 1 ? `${s.name} ${i + 1}` : s.name, child });
    }
  }
  process.stderr.write(
    `\nStint is running (Ctrl-C stops it):\n${urls(options.sessionizers, options.collectors)
      .map((u) => `  ${u}`)
      .join('\n')}\n\n`,
  );

  if (options.demo && existsSync(`${REPO_ROOT}/bench/src/demo.ts`)) {
    const demo = spawn(tsx, [`${REPO_ROOT}/bench/src/demo.ts`, '--rate', options.demoRate], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, COLLECTOR_URL: `http://127.0.0.1:${SERVICE_PORTS.collector}` },
    });
    children.push({ name: 'demo', child: demo });
  }

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    // Reverse order: the api and collector stop taking traffic before the sessionizer drains.
    for (const { name, child } of [...children].reverse()) {
      if (child.exitCode !== null) continue;
      child.kill('SIGTERM');
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          resolve();
        }, 20_000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
      process.stderr.write(`stint: ${name} stopped\n`);
    }
    rmSync(runFile(), { force: true });
    process.stderr.write(
      'stint: services stopped; Kafka and ClickHouse keep running (`npx stint stack down` stops them)\n',
    );
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  for (const { name, child } of children) {
    child.once('exit', (code, signal) => {
      if (!stopping && name !== 'demo') {
        process.stderr.write(`stint: ${name} exited (${code ?? signal}); stopping the rest\n`);
        void stop();
      }
    });
  }
  await new Promise(() => {});
}

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('bring the stack up, migrate, run every service, print the URLs (what `npm start` runs)')
    .option('--demo', 'also send realistic synthetic traffic through the collector', false)
    .option('--demo-rate <events/s>', 'demo traffic rate', '50')
    .option(
      '--sessionizers <n>',
      "sessionizer processes sharing the work (one per core is the fastest; each holds its partitions' sessions)",
      process.env.STINT_SESSIONIZERS || '1',
    )
    .option(
      '--collectors <n>',
      'collector processes on one port (node:cluster workers; salts shared, /metrics aggregated, the rate limit split between them)',
      process.env.STINT_COLLECTORS || '1',
    )
    .action((o: { demo: boolean; demoRate: string; sessionizers: string; collectors: string }) => {
      const sessionizers = Number(o.sessionizers);
      if (!Number.isInteger(sessionizers) || sessionizers < 1 || sessionizers > 16) {
        throw new Error(`--sessionizers: a whole number from 1 to 16, not ${o.sessionizers}`);
      }
      const collectors = Number(o.collectors);
      if (!Number.isInteger(collectors) || collectors < 1 || collectors > 16) {
        throw new Error(`--collectors: a whole number from 1 to 16, not ${o.collectors}`);
      }
      return startAll({ demo: o.demo, demoRate: o.demoRate, sessionizers, collectors });
    });
}

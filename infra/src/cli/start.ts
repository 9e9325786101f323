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

function urls(): string[] {
  return [
    `dashboard + api  http://127.0.0.1:${SERVICE_PORTS.api}/  (OpenAPI at /docs)`,
    `collector        http://127.0.0.1:${SERVICE_PORTS.collector}/  (snippet at /stint.js)`,
    `sessionizer      http://127.0.0.1:${SERVICE_PORTS.sessionizer}/metrics`,
    `ClickHouse       ${process.env.CLICKHOUSE_URL || `http://127.0.0.1:${PORTS.clickhouseHttp}`}  (analyst views: stint.sessions, stint.events, stint.pageviews)`,
    `Kafka            ${process.env.KAFKA_BROKERS || `127.0.0.1:${PORTS.kafka}`}  (topic stint.events)`,
  ];
}

function alreadyRunning(): number | null {
  const file = runFile();
  if (!existsSync(file)) return null;
  try {
    const { pid } = JSON.parse(readFileSync(file, 'utf8')) as { pid: number };
    return isAlive(pid) ? pid : null;
  } catch {
    return null;
  }
}

export async function startAll(options: { demo: boolean; demoRate: string }): Promise<void> {
  const running = alreadyRunning();
  if (running) {
    process.stderr.write(
      `stint is already running (pid ${running}):\n${urls()
        .map((u) => `  ${u}`)
        .join('\n')}\n`,
    );
    return;
  }
  await upAndMigrate();
  mkdirSync(`${stintHome()}/run`, { recursive: true });
  writeFileSync(runFile(), JSON.stringify({ pid: process.pid, started: new Date().toISOString() }));

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
    const child = spawn(tsx, [`${REPO_ROOT}/${s.entry}`], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: {
        ...process.env,
        // tsx runs the service in a node child process, which takes these from NODE_OPTIONS.
        ...(flags ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${flags}`.trim() } : {}),
        API_PORT: String(SERVICE_PORTS.api),
        COLLECTOR_PORT: String(SERVICE_PORTS.collector),
        SESSIONIZER_PORT: String(SERVICE_PORTS.sessionizer),
        SESSIONIZER_METRICS_PORT: String(SERVICE_PORTS.sessionizer),
        COLLECTOR_URL: `http://127.0.0.1:${SERVICE_PORTS.collector}`,
      },
    });
    children.push({ name: s.name, child });
  }
  process.stderr.write(
    `\nStint is running (Ctrl-C stops it):\n${urls()
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
    .action((o: { demo: boolean; demoRate: string }) => startAll({ demo: o.demo, demoRate: o.demoRate }));
}

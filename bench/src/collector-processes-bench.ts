/**
 * bench/collector-processes: events/s of the real collector as 1 process and as N node:cluster
 * processes (COLLECTOR_PROCESSES, what `stint start --collectors N` sets; default N = 2), in the same
 * run on the same machine and Kafka, with the single-event load of collector-bench.ts
 * (src/collector-load.ts). Prints both figures and their ratio. Kafka is whatever KAFKA_BROKERS says
 * (the single node by default, or the local three-broker cluster); the run prints which.
 * `npx tsx bench/src/collector-processes-bench.ts [--processes 2] [--seconds 15] [--warmup-seconds 10] [--connections 200]`.
 * The load (autocannon) runs in this process: on a 2-core machine it competes with the collectors for
 * CPU, so the ratio is what N processes give here, not their ceiling.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { freePort } from '@stint/e2e/pipeline';
import { createClickHouse, createMigrationClient, dropDatabase, migrate } from '@stint/infra/clickhouse';
import { createKafka, ensureTopic } from '@stint/infra/kafka';
import { addSite } from '@stint/infra/registry';
import { REPO_ROOT } from '@stint/infra/stack';
import { type Run, runLoad, singleEvents } from './collector-load.ts';
import { type Figure, round, writeResult } from './results.ts';

const { values } = parseArgs({
  options: {
    processes: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '15' },
    'warmup-seconds': { type: 'string', default: '10' },
    connections: { type: 'string', default: '200' },
    /** Default: collector-processes, or collector-processes-cluster on a Kafka or ClickHouse cluster. */
    name: { type: 'string' },
  },
});
const processes = Number(values.processes);
const seconds = Number(values.seconds);
const warmupSeconds = Number(values['warmup-seconds']);
const connections = Number(values.connections);
if (!Number.isInteger(processes) || processes < 2) throw new Error('--processes must be an integer ≥ 2');
const say = (m: string) => process.stderr.write(`bench/collector-processes: ${m}\n`);

const kafkaBrokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:19092';
const chCluster = process.env.STINT_CLICKHOUSE_CLUSTER ?? '';
const kafkaKind = kafkaBrokers.includes(',')
  ? `Kafka cluster ${kafkaBrokers}`
  : `single Kafka broker ${kafkaBrokers}`;
say(`${kafkaKind}; ClickHouse ${chCluster ? `cluster ${chCluster}` : 'single node'}; ${cpus().length} cores`);

const site = 'bench.example';
const database = `stint_bench_collector_processes_${Date.now().toString(36)}`;
const topic = `bench.collector-processes.${Date.now()}`;
const admin = createMigrationClient({});
try {
  await migrate({ client: admin, database });
} finally {
  await admin.close();
}
const client = createClickHouse({ database });
await addSite(client, database, { site_id: site });
await ensureTopic(createKafka({ clientId: 'bench', brokers: kafkaBrokers.split(',') }), topic, 6);

let running: ChildProcess | undefined;
process.on('exit', () => running?.kill('SIGTERM'));

const { body, requests, headers } = singleEvents(site);

/** Starts a collector with `n` processes, warms it up, measures single events, stops it. */
async function measure(n: number): Promise<Run> {
  const port = await freePort();
  const child = spawn(`${REPO_ROOT}/node_modules/.bin/tsx`, [`${REPO_ROOT}/collector/src/main.ts`], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      KAFKA_BROKERS: kafkaBrokers,
      COLLECTOR_PORT: String(port),
      COLLECTOR_PROCESSES: String(n),
      CLICKHOUSE_DATABASE: database,
      EVENTS_TOPIC: topic,
      LOG_LEVEL: 'warn',
      COLLECTOR_RATE_LIMIT_PER_MINUTE: '100000000',
      STINT_HOME: `${REPO_ROOT}/.stint/bench`,
    },
  });
  running = child;
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch {
      // starting
    }
    if (child.exitCode !== null || i > 300) throw new Error(`collector (${n} processes) did not start`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const target = { url: `${base}/api/event`, method: 'POST' as const, headers, body, requests, connections };
  const probe = await fetch(target.url, { method: 'POST', headers, body });
  if (!probe.ok) say(`probe answered ${probe.status}: ${(await probe.text()).slice(0, 300)}`);
  if (warmupSeconds > 0) {
    say(`${n} process(es): warming up for ${warmupSeconds} s (not measured)…`);
    await runLoad(warmupSeconds, target);
  }
  say(`${n} process(es): single events for ${seconds} s, ${connections} connections…`);
  const run = await runLoad(seconds, target);
  if (run.non2xx > 0 || run.errors > 0)
    say(`warning: ${run.non2xx} non-2xx (${JSON.stringify(run.statusCodes)}), ${run.errors} errors`);
  child.kill('SIGTERM');
  await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
  running = undefined;
  return run;
}

const load0 = loadavg();
const one = await measure(1);
const many = await measure(processes);
const load1 = loadavg();
try {
  await dropDatabase(client, database);
} finally {
  await client.close();
}

const figures: Figure[] = [
  { name: 'single events/s, 1 collector process', value: Math.round(one.rps), unit: 'events/s' },
  {
    name: `single events/s, ${processes} collector processes`,
    value: Math.round(many.rps),
    unit: 'events/s',
  },
  { name: `ratio ${processes} processes / 1`, value: round(many.rps / one.rps, 2), unit: '×' },
  { name: 'p99 latency, 1 process', value: one.p99, unit: 'ms' },
  { name: `p99 latency, ${processes} processes`, value: many.p99, unit: 'ms' },
];
writeResult(
  values.name ??
    (kafkaBrokers.includes(',') || chCluster ? 'collector-processes-cluster' : 'collector-processes'),
  figures,
  {
    kafka: kafkaKind,
    clickhouse: chCluster || 'single node',
    processes,
    seconds,
    warmupSeconds,
    connections,
    loadavg: { before: load0, after: load1 },
    runs: { one, many },
  },
);
process.exit(0);

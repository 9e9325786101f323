/**
 * bench/collector: events/s and latency of the real collector (acks=all to the local Kafka), beside a
 * bare node:http hello-world measured in the same run on the same machine (the ratio is the figure
 * that matters), and beside the same server answering only after a fixed wait as long as a Kafka
 * acknowledgement (`--ack-wait-ms`, default 3): the most closed-loop connections can get, at zero cost.
 * Beside them, the collector's own Kafka sink alone (src/sink-ceiling.ts: already encoded events, no
 * HTTP), fed the same way: what the collector could do at most with its Kafka client here.
 * `npx tsx bench/src/collector-bench.ts [--seconds 10] [--connections 200] [--warmup-seconds 10]`.
 * The collector runs as its own process; the load (autocannon) runs in this one. The collector is
 * measured warm: a fresh process needs 10–20 s of load before its CPU per event settles (ad hoc, 6 s
 * runs one after another on a fresh collector: ~150–200 µs in the first, ~90–120 µs from the third),
 * and a collector runs for days. `--warmup-seconds 0` measures it cold.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createClickHouse, exec, migrate } from '@stint/infra/clickhouse';
import { createKafka, ensureTopic } from '@stint/infra/kafka';
import { addSite, createToken } from '@stint/infra/registry';
import { REPO_ROOT } from '@stint/infra/stack';
import type autocannon from 'autocannon';
import { BENCH_UA, type Run, runLoad, singleEvents } from './collector-load.ts';
import { type Figure, round, writeResult } from './results.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    /**
     * Concurrent clients of the single-event runs (a site's visitors are many independent clients).
     * Closed-loop clients wait for each answer, so events/s ≤ connections ÷ acknowledgement time: with
     * 50 and a ~3 ms acks=all round trip that is below 15,000/s even at zero cost (the ceiling run).
     */
    connections: { type: 'string', default: '200' },
    /** Unmeasured load on the collector before the measured runs (single events, then batches). */
    'warmup-seconds': { type: 'string', default: '10' },
    /** Another collector's main.ts (an older checkout), to compare before/after in the same minute. */
    collector: { type: 'string' },
    /**
     * The wait of the "ceiling" server: a bare node:http server that answers each request only after
     * this many ms, about one acks=all Kafka round trip here (the collector's mean send time is printed).
     */
    'ack-wait-ms': { type: 'string', default: '3' },
    /** Result file name under bench/results/. */
    name: { type: 'string', default: 'collector' },
    /** Write a V8 CPU profile of the collector process into this directory (node --cpu-prof). */
    'cpu-prof': { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const say = (m: string) => process.stderr.write(`bench/collector: ${m}\n`);
const database = 'stint_bench_collector';
const site = 'bench.example';
const topic = `bench.collector.${Date.now()}`;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const load = (opts: autocannon.Options): Promise<Run> => runLoad(seconds, opts);

/** CPU seconds the collector process has used so far (its own Prometheus metric). */
async function collectorCpuSeconds(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(/^stint_collector_process_cpu_seconds_total (\S+)/m.exec(text)?.[1] ?? Number.NaN);
}

/** A load run against the collector, with the collector's CPU per acknowledged event. */
async function loadCollector(base: string, events: number, opts: autocannon.Options): Promise<Run> {
  const before = await collectorCpuSeconds(base);
  const run = await load(opts);
  const cpu = (await collectorCpuSeconds(base)) - before;
  const acknowledged = run.ok * events;
  return { ...run, cpuUsPerEvent: round((cpu * 1e6) / Math.max(1, acknowledged), 1) };
}

/** One request before a run: a non-2xx answer is printed, so a broken run says why. */
async function probe(url: string, init: RequestInit): Promise<void> {
  const res = await fetch(url, init);
  const text = await res.text();
  if (!res.ok) say(`probe of ${url} answered ${res.status}: ${text.slice(0, 300)}`);
}

/**
 * A bare node:http server in a child process (a core of its own, like the collector) that answers
 * 202 `{"ok":true}` to every request, after `waitMs` when given.
 */
function bareServer(port: number, waitMs = 0): ChildProcess {
  const answer = `s.writeHead(202,{'content-type':'application/json'});s.end('{"ok":true}')`;
  const onEnd = waitMs > 0 ? `()=>setTimeout(()=>{${answer}},${waitMs})` : `()=>{${answer}}`;
  return spawn(
    process.execPath,
    [
      '-e',
      `require('http').createServer((q,s)=>{q.resume();q.on('end',${onEnd})}).listen(${port},'127.0.0.1')`,
    ],
    { stdio: 'inherit' },
  );
}

// Bare node:http hello-world.
const helloPort = await freePort();
const hello = bareServer(helloPort);
// The same server answering only after a fixed wait: no work at all, but each connection waits for its
// answer as it would for a Kafka acknowledgement. With closed-loop connections this is the ceiling of
// single events/s: connections ÷ acknowledgement time, whatever the collector's own cost.
const ackWaitMs = Number(values['ack-wait-ms']);
const ceilingPort = await freePort();
const ceiling = bareServer(ceilingPort, ackWaitMs);

const admin = createClickHouse({ database: 'default' });
await exec(admin, `DROP DATABASE IF EXISTS ${database}`);
await migrate({ client: admin, database });
await admin.close();
const client = createClickHouse({ database });
await addSite(client, database, { site_id: site });
const ingest = await createToken(client, database, { site, scope: 'ingest' });
await client.close();
const kafka = createKafka({ clientId: 'bench' });
await ensureTopic(kafka, topic, 6);

const port = await freePort();
const collectorMain = values.collector ?? `${REPO_ROOT}/collector/src/main.ts`;
const profile = values['cpu-prof'];
const collector: ChildProcess = spawn(
  // Node 20 refuses --cpu-prof in NODE_OPTIONS, so a profiled collector runs node with tsx's loader.
  profile ? process.execPath : `${REPO_ROOT}/node_modules/.bin/tsx`,
  profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`, '--import', 'tsx', collectorMain] : [collectorMain],
  {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      COLLECTOR_PORT: String(port),
      CLICKHOUSE_DATABASE: database,
      EVENTS_TOPIC: topic,
      LOG_LEVEL: 'warn',
      COLLECTOR_RATE_LIMIT_PER_MINUTE: '100000000',
      STINT_HOME: `${REPO_ROOT}/.stint/bench`,
    },
  },
);
// A failed run must not leave the child processes behind.
process.on('exit', () => {
  collector.kill('SIGTERM');
  hello.kill('SIGTERM');
  ceiling.kill('SIGTERM');
});
const base = `http://127.0.0.1:${port}`;
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${base}/readyz`)).ok) break;
  } catch {
    // starting
  }
  if (i > 200) throw new Error('collector did not start');
  await new Promise((r) => setTimeout(r, 200));
}

const ua = BENCH_UA;
const { body: single, requests: manyVisitors, headers: singleHeaders } = singleEvents(site);
const BATCH = 500;
const batch = JSON.stringify({
  site,
  events: Array.from({ length: BATCH }, (_, i) => ({
    site,
    name: 'pageview',
    url: `https://${site}/p/${i % 20}`,
    visitor_id: `benchvisitor${String(i % 100).padStart(10, '0')}`,
    ip: `81.2.${i % 250}.${(i * 7) % 250}`,
    user_agent: ua,
  })),
});

const load0 = loadavg();
say(`load average before: ${load0.map((l) => l.toFixed(2)).join(' ')}`);
const batchHeaders = {
  'content-type': 'application/json',
  authorization: `Bearer ${ingest.secret}`,
  'user-agent': ua,
};
await probe(`${base}/api/event`, { method: 'POST', headers: singleHeaders, body: single });
await probe(`${base}/api/events`, { method: 'POST', headers: batchHeaders, body: batch });

say(`hello-world (node:http) for ${seconds} s…`);
const helloRun = await load({
  url: `http://127.0.0.1:${helloPort}/`,
  method: 'POST',
  body: single,
  connections,
});
say(`ceiling: node:http answering after ${ackWaitMs} ms, ${connections} connections…`);
const ceilingRun = await load({
  url: `http://127.0.0.1:${ceilingPort}/`,
  method: 'POST',
  body: single,
  connections,
});
const warmupSeconds = Number(values['warmup-seconds']);
if (warmupSeconds > 0) {
  say(`warming the collector up for ${warmupSeconds} s (not measured)…`);
  const half = Math.max(1, Math.round(warmupSeconds / 2));
  const warm = { url: `${base}/api/event`, method: 'POST' as const, headers: singleHeaders, body: single };
  await load({ ...warm, requests: manyVisitors, connections, duration: half });
  await load({
    ...warm,
    url: `${base}/api/events`,
    headers: batchHeaders,
    body: batch,
    connections: 8,
    duration: half,
  });
}
say(`collector, single events (POST /api/event, text/plain), ${connections} connections…`);
const singleRun = await loadCollector(base, 1, {
  url: `${base}/api/event`,
  method: 'POST',
  headers: singleHeaders,
  body: single,
  requests: manyVisitors,
  connections,
});
say('collector, batches of 500 (POST /api/events)…');
const batchRun = await loadCollector(base, BATCH, {
  url: `${base}/api/events`,
  method: 'POST',
  headers: batchHeaders,
  body: batch,
  connections: 8,
});
say('collector, single events at a fixed 10,000/s…');
const fixedRun = await loadCollector(base, 1, {
  url: `${base}/api/event`,
  method: 'POST',
  headers: singleHeaders,
  body: single,
  requests: manyVisitors,
  connections,
  overallRate: 10_000,
});

// Why requests were refused, and how big the produce requests were, from the collector's own metrics.
const metricsText = await (await fetch(`${base}/metrics`)).text();
const rejects: Record<string, number> = {};
for (const m of metricsText.matchAll(/^stint_collector_rejects_total\{reason="([^"]+)"\} (\d+)/gm)) {
  rejects[m[1] as string] = Number(m[2]);
}
const sum = (name: string) =>
  Number(new RegExp(`^${name}(?:\\{outcome="ok"\\})? (\\S+)`, 'm').exec(metricsText)?.[1] ?? 0);
const sends = sum('stint_collector_kafka_batch_events_count');
const kafkaStats = {
  sends,
  meanEventsPerSend: round(sum('stint_collector_kafka_batch_events_sum') / Math.max(1, sends), 1),
  meanSendMs: round(
    (1000 * sum('stint_collector_kafka_send_seconds_sum')) /
      Math.max(1, sum('stint_collector_kafka_send_seconds_count')),
    2,
  ),
};
const load1 = loadavg();
say(`load average after: ${load1.map((l) => l.toFixed(2)).join(' ')}`);
if (Object.keys(rejects).length > 0) say(`rejects by reason: ${JSON.stringify(rejects)}`);
say(`kafka: ${JSON.stringify(kafkaStats)}`);

collector.kill('SIGTERM');
hello.kill('SIGTERM');
ceiling.kill('SIGTERM');
await new Promise((r) => collector.once('exit', r));

interface SinkRun {
  eventsPerSecond: number;
  cpuUsPerEvent: number;
  sends: number;
  meanEventsPerSend: number;
}
/** The collector's Kafka sink alone, in a process of its own (src/sink-ceiling.ts), on the same topic. */
async function sinkCeiling(publishers: number, events: number): Promise<SinkRun> {
  const child = spawn(
    `${REPO_ROOT}/node_modules/.bin/tsx`,
    [
      `${REPO_ROOT}/bench/src/sink-ceiling.ts`,
      ...['--topic', topic, '--seconds', String(seconds)],
      ...['--publishers', String(publishers), '--events', String(events)],
    ],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LOG_LEVEL: 'warn' } },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const code = await new Promise((r) => child.once('exit', r));
  const line = out.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`sink-ceiling exited with ${code}: ${out}`);
  return JSON.parse(line) as SinkRun;
}
say(`Kafka sink alone, single events, ${connections} publishers…`);
const sinkSingle = await sinkCeiling(connections, 1);
say('Kafka sink alone, batches of 500, 8 publishers…');
const sinkBatch = await sinkCeiling(8, BATCH);
for (const [name, r] of Object.entries({
  hello: helloRun,
  ceiling: ceilingRun,
  single: singleRun,
  batch: batchRun,
  fixed: fixedRun,
})) {
  if (r.non2xx > 0 || r.errors > 0)
    say(
      `warning: ${name} had ${r.non2xx} non-2xx answers (${JSON.stringify(r.statusCodes)}) and ${r.errors} errors`,
    );
}
const figures: Figure[] = [
  { name: 'node:http hello-world requests/s', value: Math.round(helloRun.rps), unit: 'req/s' },
  {
    name: `ceiling: node:http answering after ${ackWaitMs} ms (no work), ${connections} connections`,
    value: Math.round(ceilingRun.rps),
    unit: 'req/s',
  },
  {
    name: 'single events/s (acks=all)',
    value: Math.round(singleRun.rps),
    unit: 'events/s',
    target: '≥ 15000',
  },
  { name: 'single events: ratio to hello-world', value: round(singleRun.rps / helloRun.rps, 2), unit: '×' },
  {
    name: `Kafka sink alone (no HTTP, events already encoded), single events, ${connections} publishers`,
    value: Math.round(sinkSingle.eventsPerSecond),
    unit: 'events/s',
  },
  { name: 'single events p50 latency', value: singleRun.p50, unit: 'ms' },
  { name: 'single events p99 latency', value: singleRun.p99, unit: 'ms' },
  {
    name: 'batched events/s (batches of 500)',
    value: Math.round(batchRun.rps * BATCH),
    unit: 'events/s',
    target: '≥ 100000',
  },
  {
    name: 'Kafka sink alone (no HTTP, events already encoded), batches of 500',
    value: Math.round(sinkBatch.eventsPerSecond),
    unit: 'events/s',
  },
  {
    name: 'collector CPU per single event',
    value: singleRun.cpuUsPerEvent ?? Number.NaN,
    unit: 'µs',
  },
  {
    name: 'collector CPU per batched event',
    value: batchRun.cpuUsPerEvent ?? Number.NaN,
    unit: 'µs',
  },
  { name: 'Kafka sink alone: CPU per single event', value: round(sinkSingle.cpuUsPerEvent, 1), unit: 'µs' },
  { name: 'Kafka sink alone: CPU per batched event', value: round(sinkBatch.cpuUsPerEvent, 1), unit: 'µs' },
  { name: 'batch p99 latency', value: batchRun.p99, unit: 'ms' },
  { name: 'p50 latency at 10,000 events/s', value: fixedRun.p50, unit: 'ms' },
  { name: 'p99 latency at 10,000 events/s', value: fixedRun.p99, unit: 'ms', target: '< 20' },
  { name: 'achieved rate in the 10,000/s run', value: Math.round(fixedRun.rps), unit: 'events/s' },
];
writeResult(values.name, figures, {
  collector: values.collector ?? 'collector/src/main.ts',
  seconds,
  connections,
  loadavg: { before: load0, after: load1 },
  rejects,
  kafka: kafkaStats,
  ackWaitMs,
  runs: { hello: helloRun, ceiling: ceilingRun, single: singleRun, batch: batchRun, fixed: fixedRun },
  sink: { single: sinkSingle, batch: sinkBatch },
  warmupSeconds,
});
process.exit(0);

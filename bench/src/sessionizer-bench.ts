/**
 * bench/sessionizer: `npx tsx bench/src/sessionizer-bench.ts [--events 300000] [--only machine,memory,e2e,freshness]
 *   [--e2e-events 1000000] [--e2e-runs 3] [--instances 1,2]`
 *   (a) the pure state machine alone, events/s (wall and per CPU second, median of runs);
 *   (b) Kafka → sessionizer → ClickHouse: --e2e-events pre-produced to a fresh topic, the sessionizer
 *       service (its own processes, started as `stint start` starts them, with their node flags; one
 *       set of runs per count in --instances, the members of one consumer group) from the moment the
 *       group is stable until all of them are in `events_raw` (median of --e2e-runs runs, each on a
 *       fresh database), beside a bare kafkajs consume loop over the same topic (in this process);
 *   (c) freshness: the real collector and sessionizer (child processes) at ~10,000 events/s, p50/p99
 *       from the collector's acknowledgement to the session row being visible in ClickHouse;
 *   (d) memory per open session (heap of the state machine's state / open sessions).
 * The machine is shared: every figure is printed with the load average at the time it was measured.
 * `--profile FILE.cpuprofile` writes a CPU profile of the sessionizer process of (b) (node's
 * --cpu-prof, start-up included); `--topic NAME` reuses a topic an earlier run produced (with the same
 * `--e2e-events`) instead of producing again. Figures go to bench/results/sessionizer.json
 * (sessionizer-cluster.json when STINT_CLICKHOUSE_CLUSTER is set), or `--name <file>`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { encodeKafkaEvent, type KafkaEvent, kafkaKey } from '@stint/collector/contract';
import {
  createClickHouse,
  createMigrationClient,
  dropDatabase,
  ident,
  join,
  migrate,
  queryRows,
  sql,
} from '@stint/infra/clickhouse';
import { createKafka, ensureTopic } from '@stint/infra/kafka';
import { addSite, createToken } from '@stint/infra/registry';
import { REPO_ROOT, serviceNodeFlags } from '@stint/infra/stack';
import { PartitionState, sessionId, stateConfig } from '@stint/sessionizer/state';
import { type Figure, percentile, round, writeResult } from './results.ts';
import { kafkaStream } from './sessionizer-stream.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '300000' },
    only: { type: 'string', default: 'machine,memory,e2e,freshness' },
    rate: { type: 'string', default: '10000' },
    /** Sessionizer processes per end-to-end run, one run per count (default: 1, and one per core here). */
    instances: { type: 'string', default: '1,2' },
    'e2e-events': { type: 'string', default: '1000000' },
    'e2e-runs': { type: 'string', default: '3' },
    seconds: { type: 'string', default: '20' },
    /** Result file under bench/results/ (default: sessionizer, or sessionizer-cluster on a cluster). */
    name: { type: 'string' },
    profile: { type: 'string' },
    /** Another sessionizer's main.ts (an older checkout), to compare before/after in the same minute. */
    sessionizer: { type: 'string' },
    topic: { type: 'string' },
  },
});
const N = Number(values.events);
/** End to end measures throughput: long enough that start-up (cold JIT, first fetches) is a small part. */
const E2E_N = Number(values['e2e-events']);
const parts = new Set(values.only.split(','));
const say = (m: string) => process.stderr.write(`bench/sessionizer: ${m}\n`);
const load = () => loadavg()[0] ?? 0;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? 0;
const figures: Figure[] = [];
const extra: Record<string, unknown> = { events: N };
const loads: Record<string, number> = {};

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function cpuMs(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}

// ---------------------------------------------------------------------------------------------------
// (a) The state machine alone: one partition, rows drained once per 500 events (a Kafka batch).

async function benchMachine(): Promise<void> {
  const events = kafkaStream(N, Date.UTC(2025, 5, 2), 42, 1);
  say(`state machine: ${events.length} events of a day of traffic, 5 runs…`);
  const wall: number[] = [];
  const cpu: number[] = [];
  let rows = 0;
  for (let run = 0; run < 5; run++) {
    gc();
    const state = new PartitionState(stateConfig({}));
    rows = 0;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (let i = 0; i < events.length; i++) {
      state.process({ offset: i, event: events[i] as KafkaEvent });
      if (i % 500 === 499) {
        const out = state.drain();
        rows += out.sessions.length + out.events.length;
      }
    }
    const out = state.drain();
    rows += out.sessions.length + out.events.length;
    wall.push(events.length / ((performance.now() - t0) / 1000));
    cpu.push(events.length / (cpuMs(c0) / 1000));
  }
  loads.machine = load();
  say(`  wall ${wall.map(Math.round).join(', ')} events/s; per CPU second ${cpu.map(Math.round).join(', ')}`);
  figures.push(
    {
      name: 'state machine events/s per CPU second (median)',
      value: Math.round(median(cpu)),
      unit: 'events/s',
      target: '≥ 100000',
    },
    { name: 'state machine events/s wall clock (median)', value: Math.round(median(wall)), unit: 'events/s' },
    { name: 'state machine rows per event', value: round(rows / events.length, 2), unit: 'rows' },
  );
}

// ---------------------------------------------------------------------------------------------------
// (d) Memory per open session: a busy hour (many sessions open at once) fed to one partition state.

async function benchMemory(): Promise<void> {
  const count = Math.min(N, 200_000);
  say(`memory: ${count} events over two hours into one partition state…`);
  gc();
  const before = process.memoryUsage();
  // The events are decoded inside the measured span: a held event costs its decoded object too.
  let events: KafkaEvent[] | null = kafkaStream(count, Date.UTC(2025, 5, 2), 7, 2 / 24);
  const state = new PartitionState(stateConfig({}));
  for (let i = 0; i < events.length; i++) {
    state.process({ offset: i, event: events[i] as KafkaEvent });
    if (i % 500 === 499) state.drain();
  }
  state.drain();
  events = null;
  gc();
  const after = process.memoryUsage();
  const size = state.size();
  const heap = after.heapUsed - before.heapUsed;
  loads.memory = load();
  say(
    `  ${size.openSessions} open sessions, ${size.sessions} held, ${size.visitors} visitor states, ${size.events} events held; heap +${Math.round(heap / 2 ** 20)} MiB, RSS +${Math.round((after.rss - before.rss) / 2 ** 20)} MiB`,
  );
  extra.memory = { ...size, heapBytes: heap, rssBytes: after.rss - before.rss };
  figures.push(
    { name: 'open sessions held', value: size.openSessions, unit: 'sessions' },
    {
      name: 'heap per open session (all state / open sessions)',
      value: Math.round(heap / Math.max(1, size.openSessions)),
      unit: 'bytes',
    },
    {
      name: 'heap per held event (all state / held events)',
      value: Math.round(heap / Math.max(1, size.events)),
      unit: 'bytes',
    },
  );
}

// ---------------------------------------------------------------------------------------------------
// Shared by (b) and (c): a fresh database and the local Kafka.

const database = 'stint_bench_sessionizer';
const site = 'bench.example';
const kafka = createKafka({ clientId: 'bench-sessionizer' });

async function freshDatabase(): Promise<void> {
  // In cluster mode (STINT_CLICKHOUSE_CLUSTER) both run ON CLUSTER.
  const admin = createMigrationClient();
  await dropDatabase(admin, database);
  await migrate({ client: admin, database });
  await admin.close();
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** User + system CPU seconds of a process so far (Linux: /proc/PID/stat, in clock ticks of 1/100 s). */
function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

// ---------------------------------------------------------------------------------------------------
// (b) End to end: pre-produced topic → sessionizer → ClickHouse, beside a bare consume loop.

/** Produces the benchmark stream to a fresh topic; returns the number of events. */
async function produceStream(topic: string): Promise<number> {
  const partitions = 4;
  await ensureTopic(kafka, topic, partitions);
  // Live traffic: the stream's times shifted to end now, so sessions behave as they would live.
  const stream = kafkaStream(E2E_N, Date.UTC(2025, 5, 2), 11, 1);
  const shift = Date.now() - Date.UTC(2025, 5, 2);
  const events = stream.map((e) => ({ ...e, ts: e.ts + shift, received_at: e.received_at + shift }));
  say(`end to end: producing ${events.length} events to ${topic} (${partitions} partitions)…`);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const p0 = performance.now();
  for (let i = 0; i < events.length; i += 5000) {
    await producer.send({
      topic,
      acks: -1,
      messages: events.slice(i, i + 5000).map((e) => ({ key: kafkaKey(e), value: encodeKafkaEvent(e) })),
    });
  }
  await producer.disconnect();
  say(`  produced in ${round((performance.now() - p0) / 1000)} s`);
  return events.length;
}

async function benchEndToEnd(): Promise<void> {
  const topic = values.topic ?? `bench.sessionizer.${Date.now()}`;
  const count = values.topic ? E2E_N : await produceStream(topic);
  if (values.topic) say(`end to end: reusing ${topic} (${count} events expected)…`);
  // The events are garbage by now: the sessionizer's heap is measured without them.
  gc();

  // Bare kafkajs: count messages (and parse them, as any consumer must), nothing else.
  const bare = kafka.consumer({ groupId: `bench-bare-${Date.now()}`, maxBytesPerPartition: 4 * 1024 * 1024 });
  await bare.connect();
  await bare.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  let bareDone: () => void = () => undefined;
  const bareFinished = new Promise<void>((r) => {
    bareDone = r;
  });
  const b0 = performance.now();
  await bare.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) if (m.value) JSON.parse(m.value.toString('utf8'));
      seen += batch.messages.length;
      if (seen >= count) bareDone();
    },
  });
  await bareFinished;
  const bareRate = count / ((performance.now() - b0) / 1000);
  await bare.disconnect();
  say(`  bare kafkajs consume loop: ${Math.round(bareRate)} events/s`);

  // Several runs over the same topic, each on a fresh database: the machine's speed varies from one
  // run to the next, so the figures are the medians.
  // The instance counts alternate run by run, so a change of the machine's speed hits each alike.
  const counts = instanceCounts();
  const runs = new Map(counts.map((n) => [n, [] as Awaited<ReturnType<typeof runService>>[]]));
  for (let i = 0; i < Number(values['e2e-runs']); i++) {
    for (const n of counts) runs.get(n)?.push(await runService(topic, count, n));
  }
  loads.e2e = load();
  extra.e2e = Object.fromEntries(runs);
  const machine = Math.max(...counts);
  for (const [n, rs] of runs) {
    const label = `${n} sessionizer instance${n === 1 ? '' : 's'}`;
    say(`  end to end, ${label}, each run: ${rs.map((r) => Math.round(r.rate)).join(', ')} events/s`);
    figures.push(
      {
        name: `end to end events/s (Kafka → ClickHouse, ${label}, median of ${rs.length} runs)`,
        value: Math.round(median(rs.map((r) => r.rate))),
        unit: 'events/s',
        // The target is for the machine: as many instances as it has cores (see --instances).
        ...(n === machine ? { target: '≥ 50000' } : {}),
      },
      {
        name: `end to end events per sessionizer CPU second (${label}, median)`,
        value: Math.round(median(rs.map((r) => r.cpuRate))),
        unit: 'events/s',
      },
    );
  }
  figures.push({ name: 'bare kafkajs consume loop events/s', value: Math.round(bareRate), unit: 'events/s' });
}

/** `--instances 1,2`: the numbers of sessionizer processes to measure, each in one consumer group. */
function instanceCounts(): number[] {
  const counts = String(values.instances)
    .split(',')
    .map((x) => Number(x.trim()));
  if (counts.length === 0 || counts.some((n) => !Number.isInteger(n) || n < 1 || n > 16)) {
    throw new Error(`--instances: a comma-separated list of counts from 1 to 16, not ${values.instances}`);
  }
  return counts;
}

/** One run of the sessionizer service over the pre-produced topic, on a fresh database. */
async function runService(topic: string, count: number, instances: number) {
  await freshDatabase();
  const client = createClickHouse({ database });
  // The real service, as `npm start` runs it (same entry, same node flags), in its own process(es):
  // `instances` members of one consumer group share the topic's partitions.
  const group = `bench-sessionizer-${Date.now()}`;
  const profileDir = values.profile ? mkdtempSync(`${tmpdir()}/stint-bench-prof-`) : null;
  const members: { child: ChildProcess; port: number; exited: Promise<unknown> }[] = [];
  for (let i = 0; i < instances; i++) {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        ...serviceNodeFlags('sessionizer'),
        ...(profileDir && i === 0 ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
        '--import',
        'tsx',
        values.sessionizer ?? `${REPO_ROOT}/sessionizer/src/main.ts`,
      ],
      {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'ignore', 'inherit'],
        env: {
          ...process.env,
          CLICKHOUSE_DATABASE: database,
          EVENTS_TOPIC: topic,
          EVENTS_TOPIC_PARTITIONS: '4',
          SESSIONIZER_GROUP: group,
          SESSIONIZER_METRICS_PORT: String(port),
          LOG_LEVEL: 'error',
        },
      },
    );
    members.push({ child, port, exited: new Promise((r) => child.once('exit', r)) });
  }
  // Timed from the moment every member is in the group, consuming, and the group is stable (start-up,
  // the tsx transpilation and the first rebalance are not throughput): the events already in
  // ClickHouse then are left out of the count. The replay a rebalance causes falls in the window.
  // CPU likewise, from /proc (Linux), summed over the members.
  await Promise.all(members.map((m) => waitReady(`http://127.0.0.1:${m.port}/readyz`, 'sessionizer', 20)));
  const admin = kafka.admin();
  await admin.connect();
  for (let i = 0; ; i++) {
    const { groups } = await admin.describeGroups([group]);
    const g = groups[0];
    if (g?.state === 'Stable' && g.members.length === instances) break;
    if (i > 3000) throw new Error(`consumer group did not settle: ${g?.state}, ${g?.members.length} members`);
    await sleep(10);
  }
  await admin.disconnect();
  const s0 = performance.now();
  const [before] = await queryRows<{ n: string }>(client, `SELECT count() AS n FROM ${database}.events_raw`);
  const already = Number(before?.n ?? 0);
  const cpuNow = () => members.reduce((sum, m) => sum + processCpuSeconds(m.child.pid as number), 0);
  const cpu0 = cpuNow();
  let stored = 0;
  for (;;) {
    // count() is cheap (no string column is read); the exact count, a scan that competes with the
    // sessionizer's inserts for the server's CPU, only runs once there can be enough rows.
    const [rows] = await queryRows<{ n: string }>(client, `SELECT count() AS n FROM ${database}.events_raw`);
    if (Number(rows?.n ?? 0) >= count) {
      const [row] = await queryRows<{ n: string }>(
        client,
        `SELECT uniqExact(event_id) AS n FROM ${database}.events_raw`,
      );
      stored = Number(row?.n ?? 0);
      if (stored >= count) break;
    }
    if (performance.now() - s0 > 240_000) throw new Error(`only ${stored} of ${count} events stored`);
    await sleep(100);
  }
  const seconds = (performance.now() - s0) / 1000;
  const cpuSeconds = cpuNow() - cpu0;
  const texts = await Promise.all(
    members.map(async (m) => (await fetch(`http://127.0.0.1:${m.port}/metrics`)).text()),
  );
  const metric = (re: RegExp) => texts.reduce((sum, t) => sum + Number(t.match(re)?.[1] ?? 0), 0);
  const flushSum = metric(/^stint_sessionizer_clickhouse_batch_seconds_sum (\S+)$/m);
  const flushCount = metric(/^stint_sessionizer_clickhouse_batch_seconds_count (\S+)$/m);
  const rows = (table: string) =>
    metric(new RegExp(`^stint_sessionizer_rows_written_total\\{table="${table}"\\} (\\S+)$`, 'm'));
  for (const m of members) m.child.kill('SIGTERM');
  await Promise.all(members.map((m) => m.exited));
  if (profileDir && values.profile) {
    const [file] = readdirSync(profileDir);
    if (file) {
      copyFileSync(`${profileDir}/${file}`, values.profile);
      say(`  CPU profile of the sessionizer process (start-up included) → ${values.profile}`);
    }
    rmSync(profileDir, { recursive: true, force: true });
  }
  say(
    `  ${flushCount} ClickHouse flushes, ${round(flushSum)} s in total; rows written: ${rows('events_raw')} events, ${rows('sessions_raw')} sessions`,
  );
  const result = {
    events: count,
    seconds,
    cpuSeconds,
    flushCount,
    flushSeconds: flushSum,
    eventRows: rows('events_raw'),
    sessionRows: rows('sessions_raw'),
    nodeFlags: serviceNodeFlags('sessionizer'),
    instances,
    storedBeforeSettled: already,
    rate: (count - already) / seconds,
    cpuRate: (count - already) / cpuSeconds,
  };
  const [sessions] = await queryRows<{ n: string }>(client, `SELECT count() AS n FROM ${database}.sessions`);
  await client.close();
  say(
    `  sessionizer ×${instances}: ${count - already} events in ${round(seconds)} s after the group settled (${already} stored before), ${round(cpuSeconds)} CPU s in its processes; ${sessions?.n} sessions`,
  );
  return result;
}

// ---------------------------------------------------------------------------------------------------
// (c) Freshness through the real collector and sessionizer.

async function waitReady(url: string, what: string, everyMs = 200): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // starting
    }
    if (i * everyMs > 60_000) throw new Error(`${what} did not start`);
    await sleep(everyMs);
  }
}

async function benchFreshness(): Promise<void> {
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  await freshDatabase();
  const client = createClickHouse({ database });
  await addSite(client, database, { site_id: site });
  const ingest = await createToken(client, database, { site, scope: 'ingest' });
  const topic = `bench.freshness.${Date.now()}`;
  await ensureTopic(kafka, topic, 4);
  const tsx = `${REPO_ROOT}/node_modules/.bin/tsx`;
  const env = { ...process.env, CLICKHOUSE_DATABASE: database, EVENTS_TOPIC: topic, LOG_LEVEL: 'warn' };
  const port = await freePort();
  const metricsPort = await freePort();
  const children: ChildProcess[] = [
    spawn(tsx, [`${REPO_ROOT}/collector/src/main.ts`], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        ...env,
        COLLECTOR_PORT: String(port),
        COLLECTOR_RATE_LIMIT_PER_MINUTE: '100000000',
        STINT_HOME: `${REPO_ROOT}/.stint/bench`,
      },
    }),
    spawn(tsx, [`${REPO_ROOT}/sessionizer/src/main.ts`], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        ...env,
        NODE_OPTIONS: serviceNodeFlags('sessionizer').join(' '),
        SESSIONIZER_GROUP: `bench-freshness-${Date.now()}`,
        SESSIONIZER_METRICS_PORT: String(metricsPort),
        EVENTS_TOPIC_PARTITIONS: '4',
      },
    }),
  ];
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitReady(`${base}/readyz`, 'collector');
    await waitReady(`http://127.0.0.1:${metricsPort}/readyz`, 'sessionizer');
    say(`freshness: ${rate} events/s for ${seconds} s through the collector and the sessionizer…`);
    const ua =
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
    // Every tenth event is a probe: a new visitor's first page view (its session id is known in
    // advance), then its second one a second later (the row must show 2 events). The rest are page
    // views of a pool of returning visitors.
    interface Probe {
      session: string;
      events: number;
      ackAt: number;
      seenAt?: number;
    }
    const probes: Probe[] = [];
    const pending: Probe[] = [];
    /** Marks the probes whose session row holds their event, as seen now. */
    const pollProbes = async () => {
      const ids = [...new Set(pending.map((p) => p.session))];
      const rows = await queryRows<{ session_id: string; n: string }>(
        client,
        sql`SELECT session_id, max(events) AS n FROM ${ident(database)}.sessions_raw
            WHERE session_id IN (${join(ids)}) GROUP BY session_id`,
      );
      const seenAt = performance.now();
      const have = new Map(rows.map((r) => [r.session_id, Number(r.n)]));
      for (let k = pending.length - 1; k >= 0; k--) {
        const p = pending[k] as Probe;
        if ((have.get(p.session) ?? 0) >= p.events) {
          p.seenAt = seenAt;
          pending.splice(k, 1);
        }
      }
    };
    const seconds2: Array<{ visitor: string; at: number }> = [];
    let sent = 0;
    let failed = 0;
    let probeNo = 0;
    const tickMs = 50;
    const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
    const started = performance.now();
    const runId = Date.now().toString(36);
    const inflight = new Set<Promise<void>>();
    let tick = 0;
    const warmupTicks = Math.round(2000 / tickMs);
    while (performance.now() - started < seconds * 1000) {
      const batch: Array<Record<string, unknown>> = [];
      const batchProbes: Probe[] = [];
      const measured = tick >= warmupTicks;
      const now = performance.now();
      while (seconds2.length > 0 && (seconds2[0]?.at ?? 0) <= now && batch.length < perTick) {
        const s = seconds2.shift() as { visitor: string; at: number };
        const id = `p2${s.visitor}`;
        batch.push({
          site,
          name: 'pageview',
          url: `https://${site}/second`,
          visitor_id: s.visitor,
          event_id: id,
          user_agent: ua,
        });
        if (measured) {
          batchProbes.push({ session: sessionId(site, s.visitor, `p1${s.visitor}`), events: 2, ackAt: 0 });
        }
      }
      while (batch.length < perTick) {
        const i = sent + batch.length;
        if (i % 10 === 0) {
          const visitor = `${runId}v${probeNo++}`;
          batch.push({
            site,
            name: 'pageview',
            url: `https://${site}/first`,
            visitor_id: visitor,
            event_id: `p1${visitor}`,
            user_agent: ua,
          });
          if (measured)
            batchProbes.push({ session: sessionId(site, visitor, `p1${visitor}`), events: 1, ackAt: 0 });
          seconds2.push({ visitor, at: now + 1000 });
        } else {
          batch.push({
            site,
            name: i % 3 === 0 ? 'engagement' : 'pageview',
            url: `https://${site}/page/${i % 17}`,
            visitor_id: `${runId}pool${i % 5000}`,
            event_id: `${runId}e${i}`,
            user_agent: ua,
          });
        }
      }
      sent += batch.length;
      const body = JSON.stringify({ site, events: batch });
      const req = fetch(`${base}/api/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ingest.secret}` },
        body,
      })
        .then(async (res) => {
          await res.arrayBuffer();
          if (res.status !== 202) {
            failed += batch.length;
            return;
          }
          const ackAt = performance.now();
          for (const p of batchProbes) {
            p.ackAt = ackAt;
            probes.push(p);
            pending.push(p);
          }
        })
        .catch(() => {
          failed += batch.length;
        });
      inflight.add(req);
      void req.finally(() => inflight.delete(req));
      tick++;
      // Poll for the pending probes' session rows every other tick (100 ms).
      if (tick % 2 === 0 && pending.length > 0) {
        await pollProbes();
      }
      const next = started + tick * tickMs;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
    }
    const elapsed = (performance.now() - started) / 1000;
    await Promise.all(inflight);
    // Let the last probes arrive (10 s at most), polling as before.
    const deadline = performance.now() + 10_000;
    while (pending.length > 0 && performance.now() < deadline) {
      await pollProbes();
      await sleep(100);
    }
    loads.freshness = load();
    const lat = probes
      .filter((p) => p.seenAt !== undefined)
      .map((p) => (p.seenAt as number) - p.ackAt)
      .sort((a, b) => a - b);
    say(
      `  sent ${sent} events in ${round(elapsed)} s (${failed} refused), ${probes.length} probes, ${pending.length} never seen`,
    );
    extra.freshness = { sent, failed, probes: probes.length, unseen: pending.length, seconds: elapsed };
    figures.push(
      { name: 'freshness: achieved rate', value: Math.round(sent / elapsed), unit: 'events/s' },
      {
        name: 'freshness p50 (ack → session row visible)',
        value: Math.round(percentile(lat, 50)),
        unit: 'ms',
      },
      {
        name: 'freshness p99 (ack → session row visible)',
        value: Math.round(percentile(lat, 99)),
        unit: 'ms',
        target: '≤ 2000',
      },
      { name: 'freshness: probes never seen within 10 s', value: pending.length, unit: 'probes' },
    );
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(
      children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))),
    );
    await client.close();
  }
}

// Each part runs in its own function, so its data is garbage before the next one measures memory.
if (parts.has('machine')) await benchMachine();
if (parts.has('memory')) await benchMemory();
if (parts.has('e2e')) await benchEndToEnd();
if (parts.has('freshness')) await benchFreshness();
say(`load average (1 min) at each part: ${JSON.stringify(loads)}`);
// On a ClickHouse cluster (STINT_CLICKHOUSE_CLUSTER) the figures go beside the single node's.
const cluster = process.env.STINT_CLICKHOUSE_CLUSTER;
writeResult(values.name ?? (cluster ? 'sessionizer-cluster' : 'sessionizer'), figures, {
  ...extra,
  load1: loads,
  ...(cluster ? { clickhouse_cluster: cluster, kafka_brokers: process.env.KAFKA_BROKERS } : {}),
});
process.exit(0);

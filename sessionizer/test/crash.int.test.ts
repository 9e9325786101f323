/**
 * Crash test: the sessionizer runs as a child process and is killed with SIGKILL at random moments,
 * then restarted, several times. The final `sessions` and `events` views must equal a clean run of
 * the same Kafka log (computed by the state machine over each partition's messages in offset order):
 * same ids, same counts, same durations, no ghost.
 * The same with two instances in one consumer group: each kill takes one of them (the group rebalances
 * when the session timeout notices it, and again when its replacement joins), so partitions move between
 * the instances while they hold open sessions.
 * CRASH_EVENTS sets the stream size (default 30,000 here; the 200,000 run is `CRASH_EVENTS=200000`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { encodeKafkaEvent, type KafkaEvent, kafkaKey } from '@stint/collector/contract';
import { queryRows } from '@stint/infra/clickhouse';
import { createKafka, ensureTopic } from '@stint/infra/kafka';
import { createTestDatabase, type TestDatabase, uniqueTopic, waitFor } from '@stint/infra/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentTruth, runStateMachine } from '../src/state/index.ts';
import { ev, MIN } from './helpers.ts';

const EVENTS = Number(process.env.CRASH_EVENTS ?? 30_000);
const PARTITIONS = 3;
const KILLS = 5;
const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

const kafka = createKafka({ clientId: 'sessionizer-crash-test' });

/** A deterministic pseudo-random stream: many visitors, sessions, out-of-order and very late events. */
function stream(n: number): KafkaEvent[] {
  let seed = 42;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const visitors = Math.max(10, Math.floor(n / 15));
  const start = Date.UTC(2024, 1, 29, 20, 0);
  const out: Array<{ e: KafkaEvent; arrival: number }> = [];
  const clock = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const v = Math.floor(rnd() * visitors);
    // Each visitor moves forward in time with gaps that sometimes exceed 30 min.
    const t = (clock.get(v) ?? start + rnd() * 6 * 60 * MIN) + (rnd() < 0.15 ? 40 * MIN : rnd() * 5 * MIN);
    clock.set(v, t);
    const name = rnd() < 0.7 ? 'pageview' : rnd() < 0.8 ? 'engagement' : 'signup';
    const e = ev(`e${i}`, Math.floor(t), {
      site_id: 'crash.example.com',
      hostname: 'crash.example.com',
      visitor_id: `visitor-${v}`,
      name,
      path: `/p${Math.floor(rnd() * 20)}`,
      engaged_ms: name === 'engagement' ? Math.floor(rnd() * 30_000) : 0,
    });
    // Delays mostly within the 2 min lateness, a few far beyond it.
    const delay = rnd() < 0.02 ? rnd() * 20 * MIN : rnd() * 90_000;
    out.push({ e, arrival: t + delay });
  }
  return out.sort((a, b) => a.arrival - b.arrival).map((x) => x.e);
}

function partitionOf(e: KafkaEvent): number {
  let h = 0;
  for (const c of kafkaKey(e)) h = (h * 31 + c.charCodeAt(0)) | 0;
  return Math.abs(h) % PARTITIONS;
}

function spawnSessionizer(db: TestDatabase, topic: string): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: {
      ...process.env,
      CLICKHOUSE_DATABASE: db.database,
      EVENTS_TOPIC: topic,
      SESSIONIZER_GROUP: `crash-${topic}`,
      SESSIONIZER_METRICS_PORT: '0',
      SESSIONIZER_IDLE_MS: '1000',
      SESSIONIZER_FLUSH_INTERVAL_MS: '300',
      SESSIONIZER_SESSION_TIMEOUT_MS: '6000',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

function killHard(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGKILL');
  });
}

const norm = (r: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(r).map(([k, v]) => [k, String(v)]));
const COLUMNS = [
  'session_id',
  'visitor_id',
  'started_at',
  'ended_at',
  'duration_s',
  'pageviews',
  'events',
  'engaged_ms',
  'entry_path',
  'exit_path',
  'is_bounce',
  'is_engaged',
  'has_conversion',
  'start_reason',
  'is_final',
] as const;

describe.each([1, 2])('sessionizer crash test, %i instance(s)', (instances) => {
  let db: TestDatabase;
  let topic: string;
  const children = new Set<ChildProcess>();

  beforeAll(async () => {
    db = await createTestDatabase(`sessionizer_crash_${instances}`);
    topic = uniqueTopic(`sessionizer_crash_${instances}`);
    await ensureTopic(kafka, topic, PARTITIONS);
  });

  afterAll(async () => {
    await Promise.all([...children].map(killHard));
    await db?.drop();
  });

  it(`gives the clean result after ${KILLS} SIGKILLs at random moments (${EVENTS} events)`, async () => {
    const events = stream(EVENTS);
    const byPartition: KafkaEvent[][] = Array.from({ length: PARTITIONS }, () => []);
    for (const e of events) byPartition[partitionOf(e)]?.push(e);

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let p = 0; p < PARTITIONS; p++) {
      const list = byPartition[p] ?? [];
      for (let i = 0; i < list.length; i += 500) {
        await producer.send({
          topic,
          acks: -1,
          messages: list
            .slice(i, i + 500)
            .map((e) => ({ key: kafkaKey(e), value: encodeKafkaEvent(e), partition: p })),
        });
      }
    }
    await producer.disconnect();

    // The clean run: each partition's log in offset order through the state machine, then idle.
    const clean = byPartition.map((list) => runStateMachine(list, { idleAt: Date.now() }));
    const truth = currentTruth(
      clean.flatMap((r) => r.sessions),
      clean.flatMap((r) => r.events),
    );
    const expectedSessions = truth.sessions.map((s) =>
      norm(Object.fromEntries(COLUMNS.map((c) => [c, s[c]]))),
    );
    const expectedEvents = truth.events.map((e) => `${e.event_id}=${e.session_id}`);

    const rawRows = async () =>
      Number(
        (await queryRows<{ n: string }>(db.client, `SELECT count() AS n FROM ${db.database}.events_raw`))[0]
          ?.n,
      );
    // Each kill comes at a random moment after something new was written, takes a random instance,
    // and a replacement starts at once.
    const live: ChildProcess[] = [];
    const start = () => {
      const p = spawnSessionizer(db, topic);
      live.push(p);
      children.add(p);
    };
    for (let i = 0; i < instances; i++) start();
    let rnd = 7;
    for (let k = 0; k < KILLS; k++) {
      const before = await rawRows();
      await waitFor(async () => (await rawRows()) > before, { timeoutMs: 60_000, intervalMs: 50 });
      rnd = (rnd * 48271) % 2147483647;
      await new Promise((r) => setTimeout(r, rnd % 1500));
      const [victim] = live.splice(rnd % live.length, 1);
      if (victim) await killHard(victim);
      start();
    }

    const count = async () =>
      (
        await queryRows<{ n: string }>(
          db.client,
          `SELECT count() AS n FROM ${db.database}.sessions WHERE is_final = 1`,
        )
      )[0]?.n;
    await waitFor(async () => Number(await count()) === expectedSessions.length, {
      timeoutMs: 240_000,
      intervalMs: 1000,
      message: `${expectedSessions.length} final sessions`,
    });
    // Let a last flush settle, then compare everything.
    await new Promise((r) => setTimeout(r, 1500));
    const gotSessions = (
      await queryRows<Record<string, unknown>>(
        db.client,
        `SELECT ${COLUMNS.join(', ')} FROM ${db.database}.sessions ORDER BY session_id`,
      )
    ).map(norm);
    const gotEvents = (
      await queryRows<{ event_id: string; session_id: string }>(
        db.client,
        `SELECT event_id, session_id FROM ${db.database}.events ORDER BY event_id`,
      )
    ).map((e) => `${e.event_id}=${e.session_id}`);
    expect(gotSessions.length).toBe(expectedSessions.length);
    expect(gotSessions).toEqual(expectedSessions);
    expect(gotEvents.length).toBe(expectedEvents.length);
    expect(gotEvents).toEqual(expectedEvents);
  }, 400_000);
});

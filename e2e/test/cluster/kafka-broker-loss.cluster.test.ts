/**
 * Kafka brokers lost under load, on the local three-broker cluster (replication factor 3,
 * min.insync.replicas 2, the collector producing with acks=all), with the real services.
 *
 * 1. One broker (a partition leader of the test topic) SIGKILLed while events are posted, then started
 *    again: the collector may refuse requests meanwhile, but only with a 503 and a Kafka error code;
 *    every event it acknowledged is stored exactly once and nothing else is.
 * 2. Two of three brokers down: a post is refused with 503 (fewer in-sync replicas than
 *    min.insync.replicas) and the refused event never shows up in ClickHouse; with the brokers back
 *    posts are acknowledged and stored again.
 *
 * "Exactly once" for ReplacingMergeTree: the `events` view (events_raw FINAL) holds every acknowledged
 * event id once and no other id of the site; without FINAL an id may have several rows, but only as
 * equal replays (rows of one version are identical) or corrections (a higher version, same event).
 */
import { queryRows, sql } from '@stint/infra/clickhouse';
import { createKafka } from '@stint/infra/kafka';
import { brokerKill, brokerUp, layoutFor } from '@stint/infra/stack';
import { waitFor } from '@stint/infra/testing';
import { afterAll, beforeAll, expect, onTestFailed, test } from 'vitest';
import {
  FAULT_SITE,
  figures,
  type LoadOptions,
  sleep,
  startFaultPipeline,
  startLoad,
  waitForLedger,
} from '../../src/faults.ts';
import type { Pipeline } from '../../src/pipeline.ts';

const log = (m: string) => process.stderr.write(`${m}\n`);
const BROKERS = layoutFor(3).brokers.map((b) => b.nodeId);
/** The codes the collector answers with when Kafka does not take a send (collector/src/app.ts). */
const KAFKA_503 = ['kafka_not_enough_replicas', 'kafka_unavailable'];

let pipeline: Pipeline | undefined;
const killed = new Set<number>();

async function restoreBrokers(): Promise<void> {
  for (const id of [...killed]) {
    await brokerUp(id, log);
    killed.delete(id);
  }
}

async function kill(id: number): Promise<void> {
  killed.add(id);
  if (!(await brokerKill(id))) throw new Error(`Kafka broker ${id} was not running`);
}

beforeAll(async () => {
  // Every broker up before we start (a previous run may have been interrupted).
  for (const id of BROKERS) await brokerUp(id, log);
  pipeline = await startFaultPipeline('kafka_loss', { partitions: 6 });
});

afterAll(async () => {
  try {
    await restoreBrokers();
  } finally {
    await pipeline?.close();
  }
});

interface Answer {
  at: number;
  status: number | 'network';
  error: string | undefined;
  ids: string[];
}

/** startLoad, recording every answer with its error code. */
function recordedLoad(p: Pipeline, o: LoadOptions) {
  const answers: Answer[] = [];
  const sender = startLoad(p, {
    ...o,
    onAnswer: (status, body, ids) => {
      let error: string | undefined;
      try {
        error = (JSON.parse(body) as { error?: string }).error;
      } catch {
        error = undefined;
      }
      answers.push({ at: Date.now(), status, error, ids });
    },
  });
  return { sender, answers };
}

const summary = (answers: Answer[]) => {
  const by: Record<string, number> = {};
  for (const a of answers) {
    const key = `${a.status}${a.error && a.status !== 202 && a.status !== 200 ? ` ${a.error}` : ''}`;
    by[key] = (by[key] ?? 0) + 1;
  }
  return by;
};
const ok = (a: Answer) => a.status === 200 || a.status === 202;

/** Rows of the site in events_raw without FINAL, per event id (Distributed table: every shard). */
async function rawRows(p: Pipeline, ids?: string[]) {
  return queryRows<{ event_id: string; n: string; versions: string; variants: string; contents: string }>(
    p.client,
    sql`SELECT event_id, count() AS n, uniqExact(version) AS versions,
          uniqExact(version, session_id, ts_ms, name, path, visitor_id, engaged_ms) AS variants,
          uniqExact(ts_ms, name, path, visitor_id, engaged_ms) AS contents
        FROM events_raw WHERE site_id = ${FAULT_SITE}
        ${ids ? sql`AND has(${ids}, event_id)` : sql``}
        GROUP BY event_id`,
  );
}

/** Rows per event id in events_raw FINAL. */
async function finalCounts(p: Pipeline, ids: string[]): Promise<Map<string, number>> {
  const rows = await queryRows<{ event_id: string; n: string }>(
    p.client,
    sql`SELECT event_id, count() AS n FROM events_raw FINAL
        WHERE site_id = ${FAULT_SITE} AND has(${ids}, event_id) GROUP BY event_id`,
  );
  return new Map(rows.map((r) => [r.event_id, Number(r.n)]));
}

/**
 * Waits until every partition of the test topic has all three brokers in its ISR: a broker just
 * started again must have caught up before the next fault, or the survivors of that fault may not
 * be eligible leaders (the partitions go offline instead of refusing with NOT_ENOUGH_REPLICAS).
 */
async function fullIsr(p: Pipeline): Promise<void> {
  const admin = createKafka({ clientId: 'stint-e2e-isr', brokers: p.kafkaBrokers.split(',') }).admin();
  await admin.connect();
  try {
    let last = '';
    await waitFor(
      async () => {
        const meta = await admin.fetchTopicMetadata({ topics: [p.topic] });
        const parts = meta.topics[0]?.partitions ?? [];
        last = parts.map((x) => `${x.partitionId}:[${x.isr.join(',')}]`).join(' ');
        return parts.length > 0 && parts.every((x) => x.isr.length === BROKERS.length);
      },
      { timeoutMs: 90_000, intervalMs: 1000, message: 'every partition back to a full ISR' },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; ISRs ${last}`);
    });
  } finally {
    await admin.disconnect();
  }
}

/** kafkajs' ConfigResourceTypes.TOPIC (not importable by name from its CommonJS build under ESM). */
const TOPIC_RESOURCE = 2;

/** The broker leading the most partitions of the test topic (and its replication settings checked). */
async function busiestLeader(p: Pipeline): Promise<number> {
  const admin = createKafka({ clientId: 'stint-e2e-leaders', brokers: p.kafkaBrokers.split(',') }).admin();
  await admin.connect();
  try {
    const meta = await admin.fetchTopicMetadata({ topics: [p.topic] });
    const leaders = new Map<number, number>();
    for (const part of meta.topics[0]?.partitions ?? []) {
      leaders.set(part.leader, (leaders.get(part.leader) ?? 0) + 1);
      expect(part.replicas.length, `partition ${part.partitionId} replicas`).toBe(3);
    }
    // The topic Stint made holds the settings of a 3-broker install: acks=all means two copies.
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: TOPIC_RESOURCE, name: p.topic, configNames: ['min.insync.replicas'] }],
    });
    const minInsync = resources[0]?.configEntries.find((e) => e.configName === 'min.insync.replicas');
    expect(minInsync?.configValue, `${p.topic} min.insync.replicas`).toBe('2');
    const best = [...leaders].sort((a, b) => b[1] - a[1])[0];
    if (!best || !BROKERS.includes(best[0])) throw new Error(`no broker leads ${p.topic}: ${[...leaders]}`);
    return best[0];
  } finally {
    await admin.disconnect();
  }
}

test('one broker SIGKILLed while events are posted: every acknowledged event stored exactly once', async () => {
  const p = pipeline as Pipeline;
  const started = Date.now();
  const seed = Number(process.env.E2E_SEED) || Date.now() % 100_000;
  onTestFailed(() => console.error(`seed ${seed}\n${p.logs(40)}`));
  // Long enough to go on after the restart (kill after 200, 12 s down, then the broker's start-up).
  const events = 1500;
  await fullIsr(p);
  const victim = await busiestLeader(p);
  const { sender, answers } = recordedLoad(p, {
    seed,
    events,
    visitors: 12,
    rate: 30,
    batchSize: 10,
    deadlineMs: 240_000,
  });
  await sender.acked(200);
  const killedAt = Date.now();
  await kill(victim);
  // Keep posting with the broker gone (past the controller's fencing of it), then start it again.
  await sleep(12_000);
  const ackedBeforeRestart = sender.ledger.size;
  await brokerUp(victim, log);
  killed.delete(victim);
  const upAt = Date.now();
  await sender.done;
  const c = await waitForLedger(p, sender, 120_000);
  const during = answers.filter((a) => a.at >= killedAt && a.at <= upAt);
  console.info(
    `${figures(`Kafka broker ${victim} SIGKILLed`, sender, c, Date.now() - started)}; down ${upAt - killedAt} ms; answers while down ${JSON.stringify(summary(during))}; all answers ${JSON.stringify(summary(answers))}; acked before the restart ${ackedBeforeRestart}`,
  );

  // Every request was answered; every refusal a 503 with a Kafka error code.
  expect(answers.length).toBe(sender.stats.requests);
  const refused = answers.filter((a) => !ok(a));
  expect(
    refused
      .filter((a) => a.status !== 503 || !KAFKA_503.includes(a.error ?? ''))
      .map((a) => `${a.status} ${a.error}`),
    'non-2xx answers other than 503 + a Kafka error code',
  ).toEqual([]);
  expect(during.some(ok), 'some posts acknowledged while the broker was down').toBe(true);
  expect(answers.filter((a) => a.at > upAt).some(ok), 'posts acknowledged after the restart').toBe(true);

  // The events view (FINAL): every acknowledged id once, no other id (c.problems covers sessions too).
  expect(c.problems).toEqual([]);
  expect(sender.ledger.size).toBe(events);
  expect(c.storedEvents).toBe(sender.ledger.size);
  const ids = [...sender.ledger.keys()];
  const final = await finalCounts(p, ids);
  expect(final.size, 'acknowledged ids in events_raw FINAL').toBe(ids.length);
  expect(
    [...final.values()].filter((n) => n !== 1),
    'ids with more than one row in FINAL',
  ).toEqual([]);

  // Without FINAL: replays only (same version → identical rows; every version the same event).
  const raw = await rawRows(p);
  expect(raw.length, 'distinct ids in events_raw without FINAL').toBe(ids.length);
  expect(raw.filter((r) => !sender.ledger.has(r.event_id)).map((r) => r.event_id)).toEqual([]);
  expect(
    raw.filter((r) => r.variants !== r.versions || Number(r.contents) !== 1),
    'event ids whose raw rows differ beyond an equal replay or a session correction',
  ).toEqual([]);
  const extraRows = raw.reduce((sum, r) => sum + Number(r.n) - 1, 0);
  console.info(
    `[faults] events_raw without FINAL: ${raw.length} ids, ${extraRows} extra rows (replays or corrections)`,
  );
  expect([p.collector.running(), ...p.sessionizers.map((s) => s.running())]).toEqual([true, true]);
});

test('two of three brokers down: posts refused with 503 and never stored; back up, posts stored', async () => {
  const p = pipeline as Pipeline;
  const seed = (Number(process.env.E2E_SEED) || Date.now() % 100_000) + 7;
  onTestFailed(() => console.error(`seed ${seed}\n${p.logs(40)}`));
  const [survivor, ...down] = BROKERS;
  await fullIsr(p);
  for (const id of down) await kill(id);
  // Past the brokers' session timeout, so the controller has fenced them and shrunk the ISRs.
  await sleep(15_000);

  const refused = recordedLoad(p, { seed, events: 1, visitors: 1, batchSize: 1, deadlineMs: 20_000 });
  const refusal = await refused.sender.done.then(
    () => 'acknowledged',
    (err: Error) => err.message,
  );
  const refusedId = refused.answers[0]?.ids[0] as string;
  console.info(
    `[faults] brokers ${down.join(', ')} down (broker ${survivor} up): ${refused.answers.length} answers ${JSON.stringify(summary(refused.answers))}`,
  );
  expect(refusal).toMatch(/not acknowledged before the deadline/);
  expect(refused.sender.ledger.size).toBe(0);
  expect(refused.answers.length).toBeGreaterThan(0);
  expect(
    refused.answers.filter((a) => a.status !== 503 || !KAFKA_503.includes(a.error ?? '')),
    'answers other than 503 + a Kafka error code',
  ).toEqual([]);
  expect(
    refused.answers.map((a) => a.error),
    'the documented code for too few in-sync replicas',
  ).toContain('kafka_not_enough_replicas');

  await restoreBrokers();
  const back = Date.now();
  // Posted after the restart: acknowledged (once the ISRs are two again) and stored.
  const marker = recordedLoad(p, {
    seed: seed + 1,
    events: 1,
    visitors: 1,
    batchSize: 1,
    deadlineMs: 120_000,
  });
  await marker.sender.done;
  const markerId = [...marker.sender.ledger.keys()][0] as string;
  console.info(
    `[faults] brokers back: acknowledged after ${Date.now() - back} ms, answers ${JSON.stringify(summary(marker.answers))}`,
  );
  await waitFor(async () => (await finalCounts(p, [markerId])).get(markerId) === 1, {
    timeoutMs: 60_000,
    intervalMs: 500,
    message: `event ${markerId}, acknowledged after the restart, stored`,
  });
  // The sessionizer is past the refused post's time; give other partitions a moment more.
  await sleep(5_000);
  expect(await rawRows(p, [refusedId]), `refused event ${refusedId} in events_raw`).toEqual([]);

  // The refused event, posted again now, is acknowledged and stored once.
  const again = recordedLoad(p, { seed, events: 1, visitors: 1, batchSize: 1, deadlineMs: 60_000 });
  await again.sender.done;
  expect([...again.sender.ledger.keys()]).toEqual([refusedId]);
  await waitFor(async () => (await finalCounts(p, [refusedId])).get(refusedId) === 1, {
    timeoutMs: 60_000,
    intervalMs: 500,
    message: `event ${refusedId}, posted again, stored once`,
  });
  expect(p.collector.running()).toBe(true);
});

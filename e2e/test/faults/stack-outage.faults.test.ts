/**
 * Faults 2 and 3: Kafka, then ClickHouse, stopped and restarted under load. These stop servers, so
 * they run on a private Kafka + ClickHouse (own home and ports), never the shared stack that other
 * test files use at the same time.
 */
import { afterAll, afterEach, beforeAll, expect, onTestFailed, test } from 'vitest';
import { figures, sleep, startFaultPipeline, startLoad, waitForLedger } from '../../src/faults.ts';
import type { Pipeline } from '../../src/pipeline.ts';
import { type PrivateStack, startPrivateStack } from '../../src/private-stack.ts';

let stack: PrivateStack;
let pipeline: Pipeline | undefined;

beforeAll(async () => {
  stack = await startPrivateStack();
}, 120_000);

afterEach(async () => {
  // A failed case may have left a server down; the next case needs both.
  await stack.kafkaUp();
  await stack.clickhouseUp();
  await pipeline?.close();
  pipeline = undefined;
});

afterAll(async () => {
  await stack?.destroy();
});

test('Kafka stopped and restarted under load: every acknowledged event is stored once, sessions match', async () => {
  const started = Date.now();
  const seed = Number(process.env.E2E_SEED) || Date.now() % 100_000;
  const p = await startFaultPipeline('kafka_outage', {
    kafkaBrokers: stack.kafkaBrokers,
    clickhouseUrl: stack.clickhouseUrl,
  });
  pipeline = p;
  onTestFailed(() => console.error(`seed ${seed}\n${p.logs(40)}`));
  const events = 3000;
  const sender = startLoad(p, { seed, events, rate: 100 });
  await sender.acked(Math.floor(0.3 * events));
  const down = Date.now();
  await stack.kafkaDown();
  await sleep(8000);
  await stack.kafkaUp();
  const outageMs = Date.now() - down;
  await sender.done;
  const c = await waitForLedger(p, sender, 90_000);
  console.info(
    `${figures('Kafka stopped and restarted', sender, c, Date.now() - started)}; outage ${outageMs} ms`,
  );
  expect(c.problems).toEqual([]);
  expect(c.storedEvents).toBe(events);
  // The services rode it out: none had to be restarted.
  expect([p.collector.running(), ...p.sessionizers.map((s) => s.running())]).toEqual([true, true]);
});

test('ClickHouse stopped for 60 s under load: consumption pauses, resumes, sessions match', async () => {
  const started = Date.now();
  const seed = Number(process.env.E2E_SEED) || Date.now() % 100_000;
  const p = await startFaultPipeline('clickhouse_outage', {
    kafkaBrokers: stack.kafkaBrokers,
    clickhouseUrl: stack.clickhouseUrl,
  });
  pipeline = p;
  onTestFailed(() => console.error(`seed ${seed}\n${p.logs(40)}`));
  const events = 3000;
  // Slow enough that the load goes on for the whole outage.
  const sender = startLoad(p, { seed, events, rate: 40, deadlineMs: 200_000 });
  await sender.acked(Math.floor(0.15 * events));
  await stack.clickhouseDown();
  await sleep(60_000);
  await stack.clickhouseUp();
  await sender.done;
  const c = await waitForLedger(p, sender, 90_000);
  console.info(figures('ClickHouse stopped for 60 s', sender, c, Date.now() - started));
  expect(c.problems).toEqual([]);
  expect(c.storedEvents).toBe(events);
  expect([p.collector.running(), ...p.sessionizers.map((s) => s.running())]).toEqual([true, true]);
}, 300_000);

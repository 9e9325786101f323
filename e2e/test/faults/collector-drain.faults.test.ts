/**
 * Fault 4: the collector stopped with SIGTERM under load drains gracefully (stops accepting, waits
 * for the Kafka acks of the requests it holds, flushes) and exits 0; no acknowledged event is lost,
 * and the sender's retries of refused batches are not counted twice.
 */
import { afterEach, expect, onTestFailed, test } from 'vitest';
import {
  figures,
  randomPoints,
  sleep,
  startFaultPipeline,
  startLoad,
  waitForLedger,
} from '../../src/faults.ts';
import type { Pipeline } from '../../src/pipeline.ts';

let pipeline: Pipeline | undefined;

afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

test('a collector stopped with SIGTERM under load drains, exits cleanly and loses no acknowledged event', async () => {
  const started = Date.now();
  const seed = Number(process.env.E2E_SEED) || Date.now() % 100_000;
  const p = await startFaultPipeline('collector_sigterm');
  pipeline = p;
  onTestFailed(() => console.error(`seed ${seed}\n${p.logs(30)}`));
  const events = 3000;
  // Four batches in flight at any time, so the SIGTERM always lands on requests waiting for Kafka.
  const sender = startLoad(p, { seed, events, rate: 200, concurrency: 4 });
  for (const at of randomPoints(seed, 2, 0.2, 0.8)) {
    await sender.acked(Math.floor(at * events));
    expect(await p.collector.kill('SIGTERM', 20_000)).toBe(0);
    await sleep(500);
    await p.collector.start();
  }
  await sender.done;
  const c = await waitForLedger(p, sender, 60_000);
  console.info(figures('collector SIGTERM x2', sender, c, Date.now() - started));
  expect(c.problems).toEqual([]);
  expect(c.storedEvents).toBe(events);
  // The sender did meet the stopped collector (refusals or connection errors) and retried.
  expect(sender.stats.retries).toBeGreaterThan(0);
});

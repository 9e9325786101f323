/**
 * Faults 1 and 5: the sessionizer killed with SIGKILL under load. Whatever the moment, after a
 * restart (or a rebalance to a surviving instance) ClickHouse holds each acknowledged event once
 * and exactly the sessions the ledger implies.
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
import type { Pipeline, Service } from '../../src/pipeline.ts';

/**
 * Waits until a (re)started sessionizer has joined the group and sessionized events. A SIGKILLed
 * member stays in the group until its session times out; killing the next instance before it has
 * joined tests Kafka's group protocol, not Stint, and can leave the group waiting past the test.
 */
async function waitUntilConsuming(s: Service, loadDone: () => boolean, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const text = await (await fetch(`${s.url}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
      const m = /^stint_sessionizer_events_total(?:\{[^}]*\})? (\d+(?:\.\d+)?)/m.exec(text);
      if (m && Number(m[1]) > 0) return;
      // Nothing left to consume: the ledger check that follows decides.
      if (loadDone()) return;
    } catch {
      // starting
    }
    if (Date.now() > deadline)
      throw new Error(`sessionizer at ${s.url} did not start consuming within ${timeoutMs} ms`);
    await sleep(250);
  }
}

let pipeline: Pipeline | undefined;

afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

test('a sessionizer killed with SIGKILL four times under load and restarted loses and duplicates nothing', async () => {
  const started = Date.now();
  const seed = Number(process.env.E2E_SEED) || Date.now() % 100_000;
  const p = await startFaultPipeline('kill_sessionizer');
  pipeline = p;
  onTestFailed(() => console.error(`seed ${seed}\n${p.logs(30)}`));
  const events = 3000;
  const sender = startLoad(p, { seed, events });
  const sessionizer = p.sessionizers[0];
  if (!sessionizer) throw new Error('no sessionizer');
  let loadDone = false;
  const finished = () => {
    loadDone = true;
  };
  void sender.done.then(finished, finished);
  for (const at of randomPoints(seed, 4, 0.1, 0.95)) {
    await sender.acked(Math.floor(at * events));
    // A random moment inside the batch cycle: before, during or after a flush and a commit.
    await sleep(Math.floor(Math.random() * 700));
    expect(await sessionizer.kill('SIGKILL')).toBeNull();
    await sessionizer.start();
    await waitUntilConsuming(sessionizer, () => loadDone);
  }
  await sender.done;
  const c = await waitForLedger(p, sender, 120_000);
  console.info(figures('sessionizer SIGKILL x4', sender, c, Date.now() - started));
  expect(c.problems).toEqual([]);
  expect(c.storedEvents).toBe(events);
  expect(sender.ledger.size).toBe(events);
});

test('two sessionizer instances share the partitions and the survivor takes over when one is killed', async () => {
  const started = Date.now();
  const seed = Number(process.env.E2E_SEED) || (Date.now() % 100_000) + 1;
  const p = await startFaultPipeline('rebalance', { sessionizers: 2 });
  pipeline = p;
  onTestFailed(() => console.error(`seed ${seed}\n${p.logs(30)}`));
  const events = 3000;
  const sender = startLoad(p, { seed, events });
  const [first, second] = p.sessionizers;
  if (!first || !second) throw new Error('two sessionizers expected');
  const [at] = randomPoints(seed, 1, 0.3, 0.6);
  await sender.acked(Math.floor((at ?? 0.4) * events));
  expect(await first.kill('SIGKILL')).toBeNull();
  await sender.done;
  const c = await waitForLedger(p, sender, 90_000);
  console.info(figures('two sessionizers, one SIGKILLed', sender, c, Date.now() - started));
  expect(second.running()).toBe(true);
  expect(c.problems).toEqual([]);
  expect(c.storedEvents).toBe(events);
});

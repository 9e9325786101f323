/**
 * Shared shape of every fault test: a pipeline with one site (short gap), generated load sent through
 * the real collector while the test breaks something, then a check that ClickHouse's views equal
 * what the ledger of acknowledged events implies.
 */
import { waitFor } from '@stint/infra/testing';
import { arrivalOrder, generateVisits, rng, type Sender, type SendOptions, startSender } from './load.ts';
import { type Pipeline, type PipelineOptions, startPipeline } from './pipeline.ts';
import { type Comparison, compareWithLedger } from './reference.ts';

export const FAULT_SITE = 'faults.test';
/** The smallest gap a site may have; keeps the event-time span of the load short. */
export const GAP_S = 60;

export function startFaultPipeline(
  label: string,
  options: Partial<Omit<PipelineOptions, 'label' | 'sites'>> = {},
): Promise<Pipeline> {
  return startPipeline({
    label,
    sites: [{ site_id: FAULT_SITE, gap_s: GAP_S }],
    partitions: 4,
    ...options,
    env: {
      ...options.env,
      // Flush often so the check converges quickly after the load.
      // A SIGKILLed member holds its partitions until its session times out: keep that short here.
      sessionizer: {
        SESSIONIZER_FLUSH_INTERVAL_MS: '300',
        SESSIONIZER_SESSION_TIMEOUT_MS: '10000',
        ...options.env?.sessionizer,
      },
      collector: { ...options.env?.collector },
    },
  });
}

export interface LoadOptions {
  seed: number;
  events?: number;
  visitors?: number;
  rate?: number;
  concurrency?: number;
  deadlineMs?: number;
  batchSize?: number;
  onAnswer?: SendOptions['onAnswer'];
}

export function startLoad(p: Pipeline, o: LoadOptions): Sender {
  const events = generateVisits({
    seed: o.seed,
    visitors: o.visitors ?? 40,
    events: o.events ?? 3000,
    gapS: GAP_S,
    // Far enough back that no generated time lies in the future.
    startMs: Date.now() - 120 * 60_000,
  });
  return startSender({
    collectorUrl: () => p.collector.url,
    site: FAULT_SITE,
    token: p.ingestToken[FAULT_SITE] ?? '',
    events: arrivalOrder(events, o.seed),
    rate: o.rate ?? 150,
    concurrency: o.concurrency ?? 2,
    ...(o.deadlineMs !== undefined ? { deadlineMs: o.deadlineMs } : {}),
    ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
    ...(o.onAnswer ? { onAnswer: o.onAnswer } : {}),
  });
}

/** `n` distinct sorted fractions in [lo, hi), from a seed. */
export function randomPoints(seed: number, n: number, lo: number, hi: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => lo + r() * (hi - lo)).sort((a, b) => a - b);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until ClickHouse holds every acknowledged event once and exactly the reference sessions;
 * throws with the remaining differences otherwise. Returns the comparison and how long it took.
 */
export async function waitForLedger(
  p: Pipeline,
  sender: Sender,
  timeoutMs = 60_000,
): Promise<Comparison & { convergedMs: number }> {
  const started = Date.now();
  let last: Comparison | undefined;
  try {
    await waitFor(
      async () => {
        last = await compareWithLedger(p.client, FAULT_SITE, sender.ledger, GAP_S);
        return last.problems.length === 0;
      },
      { timeoutMs, intervalMs: 1000, message: 'ClickHouse matching the ledger' },
    );
  } catch (err) {
    const problems = last?.problems ?? [];
    throw new Error(
      `${(err as Error).message}\nledger: ${sender.ledger.size} acknowledged events; stored: ${last?.storedEvents} events, ${last?.storedSessions} sessions (expected ${last?.expectedSessions})\n${problems.length} problems, first ones:\n  ${problems.slice(0, 25).join('\n  ')}`,
    );
  }
  return { ...(last as Comparison), convergedMs: Date.now() - started };
}

/** One line of figures for the test output and the report. */
export function figures(
  name: string,
  sender: Sender,
  c: Comparison & { convergedMs: number },
  totalMs: number,
): string {
  const s = sender.stats;
  return `[faults] ${name}: ${sender.ledger.size} events acked in ${s.requests} requests (${s.retries} retries; answers ${JSON.stringify(s.statuses)}), load ${s.ms} ms; ${c.storedSessions} sessions match the reference; converged ${c.convergedMs} ms after the load; case total ${totalMs} ms`;
}

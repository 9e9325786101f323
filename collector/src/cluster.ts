/**
 * `COLLECTOR_PROCESSES=N` (what `stint start --collectors N` sets): the collector runs as N node:cluster
 * workers sharing one listen port; the primary only forks, restarts a worker that dies, relays
 * SIGTERM/SIGINT and answers the workers' requests for the aggregated metrics.
 *
 * What holds across the workers:
 *  - salts: every worker uses the shared salt store (shared-salts.ts), like separate collectors do;
 *  - /metrics: whichever worker a scrape reaches asks the primary, which gathers every worker's
 *    registry (prom-client's AggregatorRegistry): counters and histograms are summed, so the numbers
 *    are the collector's as a whole; `stint_collector_processes` says how many workers answered;
 *  - rate limits: counted per worker, so each worker allows 1/N of COLLECTOR_RATE_LIMIT_PER_MINUTE.
 *    A client whose connections spread over the workers gets about the configured limit; one on a
 *    single keep-alive connection (always the same worker) gets 1/N of it. The configured number is
 *    never exceeded (unless it is below N: each worker allows at least 1).
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '@stint/infra/service';
import { AggregatorRegistry, type Registry } from 'prom-client';

const REQ = 'stint:collector-metrics-req';
const RES = 'stint:collector-metrics-res';

interface MetricsRequest {
  type: typeof REQ;
  id: number;
}
interface MetricsResponse {
  type: typeof RES;
  id: number;
  text?: string;
  error?: string;
}

/** The per-worker share of a per-minute limit. */
export function workerRateLimit(limitPerMinute: number, processes: number): number {
  return Math.max(1, Math.floor(limitPerMinute / Math.max(1, processes)));
}

export interface PrimaryOptions {
  processes: number;
  log: Logger;
  /** How long workers may take to drain on SIGTERM before they are killed. */
  shutdownTimeoutMs: number;
}

export async function runPrimary(options: PrimaryOptions): Promise<void> {
  const { log, processes } = options;
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  const slots = new Map<Worker, number>();

  const fork = (slot: number) => {
    const worker = cluster.fork({ COLLECTOR_WORKER: String(slot) });
    slots.set(worker, slot);
  };

  cluster.on('message', (worker, message: MetricsRequest) => {
    if (message?.type !== REQ) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: RES, id: message.id, text } satisfies MetricsResponse),
      (err: Error) =>
        worker.send({ type: RES, id: message.id, error: err.message } satisfies MetricsResponse),
    );
  });
  cluster.on('exit', (worker, code, signal) => {
    const slot = slots.get(worker) ?? 0;
    slots.delete(worker);
    if (stopping) return;
    log.error({ worker: slot, code, signal }, 'collector worker exited; starting another in 1 s');
    setTimeout(() => {
      if (!stopping) fork(slot);
    }, 1000).unref();
  });

  for (let i = 0; i < processes; i++) fork(i);
  log.info({ processes }, 'collector started as a cluster of workers sharing one port');

  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping the collector workers');
    const workers = [...slots.keys()];
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            const t = setTimeout(() => {
              log.error({ worker: slots.get(w) }, 'collector worker did not stop in time; killing it');
              w.process.kill('SIGKILL');
            }, options.shutdownTimeoutMs + 5000);
            w.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            w.process.kill('SIGTERM');
          }),
      ),
    );
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

/**
 * In a worker: answer the primary's aggregation requests with `registry`, and return the function
 * /metrics calls to get the aggregate over every worker.
 */
export function workerMetrics(registry: Registry): () => Promise<string> {
  new AggregatorRegistry(); // installs the worker's side of prom-client's aggregation protocol
  AggregatorRegistry.setRegistries([registry]);
  let next = 0;
  const waiting = new Map<number, { resolve: (t: string) => void; reject: (e: Error) => void }>();
  process.on('message', (message: MetricsResponse) => {
    if (message?.type !== RES) return;
    const w = waiting.get(message.id);
    if (!w) return;
    waiting.delete(message.id);
    if (message.error !== undefined) w.reject(new Error(message.error));
    else w.resolve(message.text ?? '');
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('no aggregated metrics from the primary within 6 s'));
      }, 6000);
      waiting.set(id, {
        resolve: (t) => {
          clearTimeout(timer);
          resolve(t);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      process.send?.({ type: REQ, id } satisfies MetricsRequest);
    });
}

/**
 * Load for the fault tests: a seeded generator of visits (explicit event ids and times, several
 * visitors, sessions split by gaps, some events arriving out of order and a few very late), and a
 * sender that posts them to POST /api/events in batches and keeps a ledger of every event the
 * collector acknowledged (2xx). A refused or failed batch is retried unchanged, as a careful
 * server-side sender would, so in the end every generated event is in the ledger.
 */

export interface LedgerEvent {
  event_id: string;
  visitor_id: string;
  /** Event time, epoch ms. */
  ts: number;
  name: 'pageview' | 'engagement' | 'signup';
  path: string;
  engaged_ms: number;
}

/** mulberry32: small, seeded, good enough to spread test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PATHS = ['/', '/pricing', '/blog/one', '/blog/two', '/docs', '/signup', '/about'];

export interface GenerateOptions {
  seed: number;
  visitors: number;
  events: number;
  /** The site's inactivity gap: within-session steps stay well below it, breaks well above it. */
  gapS: number;
  /** Event time of the earliest visit. */
  startMs: number;
}

/** Visits in event-time order. */
export function generateVisits(o: GenerateOptions): LedgerEvent[] {
  const r = rng(o.seed);
  const perVisitor = Math.ceil(o.events / o.visitors);
  const out: LedgerEvent[] = [];
  const tag = o.seed.toString(36);
  for (let v = 0; v < o.visitors; v++) {
    const visitor = `vis${tag}x${v.toString().padStart(4, '0')}`;
    let ts = o.startMs + Math.floor(r() * 60_000);
    for (let i = 0; i < perVisitor && out.length < o.events; i++) {
      const x = r();
      const name = x < 0.6 ? 'pageview' : x < 0.9 ? 'engagement' : 'signup';
      out.push({
        event_id: `ev${tag}x${v}x${i}`,
        visitor_id: visitor,
        ts,
        name,
        path: PATHS[Math.floor(r() * PATHS.length)] ?? '/',
        engaged_ms: name === 'engagement' ? Math.floor(r() * 30_000) : 0,
      });
      // Mostly steps inside a session (up to 3/4 of the gap), sometimes a break (1.1 to 4 gaps).
      const step = r() < 0.15 ? (1.1 + r() * 2.9) * o.gapS * 1000 : (0.5 + r() * 0.75 * o.gapS) * 1000;
      ts += Math.floor(step);
    }
  }
  return out.sort((a, b) => a.ts - b.ts || (a.event_id < b.event_id ? -1 : 1));
}

/**
 * Arrival order: mostly event-time order with a few seconds of jitter, some events late by up to
 * 100 s (within the sessionizer's default 2 min lateness) and a few very late (2.5 to 6 min).
 */
export function arrivalOrder(events: readonly LedgerEvent[], seed: number): LedgerEvent[] {
  const r = rng(seed ^ 0x5eed);
  return events
    .map((e) => {
      const x = r();
      const delay = x < 0.005 ? 150_000 + r() * 210_000 : x < 0.06 ? 20_000 + r() * 80_000 : r() * 5000;
      return { e, key: e.ts + delay };
    })
    .sort((a, b) => a.key - b.key)
    .map((x) => x.e);
}

export interface SendStats {
  batches: number;
  requests: number;
  /** Answers by HTTP status; `network` for connection errors and timeouts. */
  statuses: Record<string, number>;
  retries: number;
  acked: number;
  ms: number;
}

export interface Sender {
  /** Event ids acknowledged with a 2xx, in the order of acknowledgement. */
  ledger: Map<string, LedgerEvent>;
  stats: SendStats;
  /** Resolves when every batch was acknowledged; rejects after `deadlineMs` or on a 4xx. */
  done: Promise<SendStats>;
  /** Resolves once at least `n` events are acknowledged. */
  acked(n: number): Promise<void>;
}

export interface SendOptions {
  collectorUrl: () => string;
  site: string;
  token: string;
  events: readonly LedgerEvent[];
  batchSize?: number;
  /** Target events per second. */
  rate?: number;
  concurrency?: number;
  /** Give up (reject) when not everything is acknowledged by then. */
  deadlineMs?: number;
  userAgent?: string;
  /** `/api/events` (default) or `/api/import` (imports and backfills: their own topic, no age bound). */
  endpoint?: '/api/events' | '/api/import';
  /** Called with every answer (HTTP status, or `network`), its body and the batch's event ids. */
  onAnswer?: (status: number | 'network', body: string, eventIds: string[]) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An answer that retrying cannot fix. */
class FatalAnswer extends Error {}

export function startSender(o: SendOptions): Sender {
  const batchSize = o.batchSize ?? 50;
  const rate = o.rate ?? 200;
  const concurrency = o.concurrency ?? 2;
  const deadline = Date.now() + (o.deadlineMs ?? 240_000);
  const ua =
    o.userAgent ??
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
  const batches: LedgerEvent[][] = [];
  for (let i = 0; i < o.events.length; i += batchSize) batches.push(o.events.slice(i, i + batchSize));

  const ledger = new Map<string, LedgerEvent>();
  const stats: SendStats = {
    batches: batches.length,
    requests: 0,
    statuses: {},
    retries: 0,
    acked: 0,
    ms: 0,
  };
  const waiters: { n: number; resolve: () => void }[] = [];
  const started = Date.now();
  const count = (key: string) => {
    stats.statuses[key] = (stats.statuses[key] ?? 0) + 1;
  };

  const body = (batch: LedgerEvent[]) =>
    JSON.stringify({
      site: o.site,
      events: batch.map((e) => ({
        site: o.site,
        event_id: e.event_id,
        visitor_id: e.visitor_id,
        ts: e.ts,
        name: e.name,
        url: `https://${o.site}${e.path}`,
        user_agent: ua,
        ...(e.engaged_ms > 0 ? { engaged_ms: e.engaged_ms } : {}),
      })),
    });

  /** Posts one batch until it is acknowledged. */
  const deliver = async (batch: LedgerEvent[]) => {
    const payload = body(batch);
    for (let attempt = 0; ; attempt++) {
      if (Date.now() > deadline)
        throw new Error(`batch not acknowledged before the deadline (${attempt} attempts)`);
      if (attempt > 0) stats.retries++;
      stats.requests++;
      let retryAfterMs = 250;
      try {
        const res = await fetch(`${o.collectorUrl()}${o.endpoint ?? '/api/events'}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${o.token}` },
          body: payload,
          signal: AbortSignal.timeout(15_000),
        });
        count(String(res.status));
        const text = await res.text();
        o.onAnswer?.(
          res.status,
          text,
          batch.map((e) => e.event_id),
        );
        if (res.status === 202 || res.status === 200) {
          const answer = JSON.parse(text) as { accepted: number; dropped: number };
          if (answer.accepted !== batch.length) {
            throw new FatalAnswer(`collector accepted ${answer.accepted} of ${batch.length}: ${text}`);
          }
          for (const e of batch) ledger.set(e.event_id, e);
          stats.acked = ledger.size;
          for (const w of waiters.filter((w) => ledger.size >= w.n)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve();
          }
          return;
        }
        // 429 and 5xx are retried; any other 4xx is a bug in this test or in the collector.
        if (res.status !== 429 && res.status < 500)
          throw new FatalAnswer(`collector answered ${res.status}: ${text}`);
        const after = Number(res.headers.get('retry-after'));
        if (Number.isFinite(after) && after > 0) retryAfterMs = Math.min(after * 1000, 2000);
      } catch (err) {
        if (err instanceof FatalAnswer) throw err;
        count('network');
        o.onAnswer?.(
          'network',
          String(err),
          batch.map((e) => e.event_id),
        );
      }
      await sleep(retryAfterMs);
    }
  };

  const done = (async () => {
    let next = 0;
    const worker = async () => {
      for (;;) {
        const i = next++;
        const batch = batches[i];
        if (!batch) return;
        // Paced by batch index, so time lost to a fault is not caught up in a burst.
        const due = started + ((i * batchSize) / rate) * 1000;
        if (due > Date.now()) await sleep(due - Date.now());
        await deliver(batch);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    stats.ms = Date.now() - started;
    return stats;
  })();
  // The caller may await `done` late; never leave it as an unhandled rejection meanwhile.
  done.catch(() => {});

  return {
    ledger,
    stats,
    done,
    acked: (n) =>
      ledger.size >= n
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            waiters.push({ n, resolve });
            done.then(() => {
              if (ledger.size < n) reject(new Error(`only ${ledger.size} of ${n} events were acknowledged`));
            }, reject);
          }),
  };
}

/**
 * Soak: the whole pipeline (real collector, sessionizer and api as child processes, the local Kafka
 * and ClickHouse) at a steady rate of realistic live traffic for a chosen time. Every `--interval`
 * seconds it samples throughput (events the collector acknowledged per second), end-to-end freshness
 * (acknowledged → row in events_raw, a few sampled event ids per interval) and the RSS of every
 * process; at the end it computes each process's memory growth after warm-up (the first 20 % left
 * out) and writes bench/results/soak.json.
 *
 *   npx tsx bench/src/soak.ts --minutes 30 --rate 200
 *
 * Sites get a short inactivity gap and the sessionizer a short retention (`--gap`, `--retention`):
 * the sessionizer keeps a visitor's state for lateness + gap + retention after its last event, so
 * with the defaults of production (30 min gap, 10 min retention) its state would still be filling
 * up 42 minutes into the run; memory can only be flat once that horizon lies inside the warm-up.
 * Ctrl-C ends the run early and still writes the result.
 */
import { parseArgs } from 'node:util';
import type { ServerEvent } from '@stint/collector/contract';
import { createKafka } from '@stint/infra/kafka';
import { stintHome } from '@stint/infra/stack';
import { Random } from '@stint/infra/testing';
import { type Pipeline, startPipeline } from '../../e2e/src/pipeline.ts';
import { type Figure, percentile, round, writeResult } from './results.ts';
import { FreshnessProbes, memoryGrowth, pidFromFile, rssMiB } from './soak-measure.ts';
import { SteadyTraffic } from './soak-traffic.ts';
import { DEMO_SITES } from './visits.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    rate: { type: 'string', default: '200' },
    interval: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '0.2' },
    gap: { type: 'string', default: '60' },
    retention: { type: 'string', default: '60' },
    lateness: { type: 'string', default: '60' },
    'time-scale': { type: 'string', default: '0.1' },
    probes: { type: 'string', default: '5' },
    seed: { type: 'string', default: '7' },
  },
});
const num = (name: keyof typeof values, min: number) => {
  const v = Number(values[name]);
  if (!Number.isFinite(v) || v < min) throw new Error(`--${name} must be a number ≥ ${min}`);
  return v;
};
const minutes = num('minutes', 0.2);
const rate = num('rate', 1);
const intervalS = num('interval', 1);
const warmupFraction = num('warmup', 0);
const gapS = num('gap', 60);
const retentionS = num('retention', 0);
const latenessS = num('lateness', 0);
const timeScale = num('time-scale', 0.001);
const probesPerInterval = num('probes', 1);
const TICK_MS = 100;
const MAX_IN_FLIGHT = 32;

const log = (line: string) => process.stdout.write(`${line}\n`);

type ProcName = 'collector' | 'sessionizer' | 'api' | 'clickhouse' | 'kafka' | 'soak driver';
interface Sample {
  t_s: number;
  acked_eps: number;
  accepted_eps: number;
  errors: number;
  visits_in_flight: number;
  freshness_p50_ms: number | null;
  freshness_max_ms: number | null;
  rss_mib: Partial<Record<ProcName, number | null>>;
}

async function main(): Promise<void> {
  const horizonS = latenessS + gapS + retentionS;
  if (horizonS > minutes * 60 * warmupFraction) {
    log(
      `note: the sessionizer keeps a visitor ${horizonS} s after its last event (lateness + gap + retention); ` +
        `the warm-up (${round(minutes * 60 * warmupFraction, 0)} s) is shorter, so its state may still be growing after it.`,
    );
  }
  log(`soak: starting the pipeline (collector, sessionizer, api) on the local stack…`);
  const pipeline: Pipeline = await startPipeline({
    label: 'soak',
    sites: DEMO_SITES.map((site_id) => ({ site_id, gap_s: gapS })),
    partitions: 4,
    env: {
      collector: { LOG_LEVEL: 'warn' },
      api: { LOG_LEVEL: 'warn' },
      sessionizer: {
        LOG_LEVEL: 'warn',
        SESSIONIZER_RETENTION_MS: String(retentionS * 1000),
        SESSIONIZER_LATENESS_MS: String(latenessS * 1000),
      },
    },
  });
  const home = stintHome();
  const pids: Record<ProcName, () => number | null> = {
    collector: () => pipeline.collector.pid(),
    sessionizer: () => pipeline.sessionizers[0]?.pid() ?? null,
    api: () => pipeline.api.pid(),
    clickhouse: () => pidFromFile(`${home}/clickhouse/clickhouse.pid`),
    kafka: () => pidFromFile(`${home}/kafka/kafka.pid`),
    // The load generator itself (not part of Stint): shown so its own cost on the machine is visible.
    'soak driver': () => process.pid,
  };
  for (const [name, pid] of Object.entries(pids)) {
    if (pid() === null) log(`note: no pid for ${name} (an external server?): its memory is not sampled`);
  }

  const rng = new Random(Number(values.seed));
  const traffic = new SteadyTraffic(rng, { timeScale, returningShare: 0.3 });
  const probes = new FreshnessProbes(pipeline.client, { pollMs: 200, giveUpMs: 120_000 });
  probes.start();

  let stopping = false;
  process.once('SIGINT', () => {
    log('soak: interrupted, finishing early…');
    stopping = true;
  });

  const startedAt = Date.now();
  const endAt = startedAt + minutes * 60_000;
  let taken = 0;
  let acked = 0;
  let accepted = 0;
  let errors = 0;
  let inFlight = 0;
  const errorStatuses: Record<string, number> = {};
  const ackMs: number[] = [];
  const readMs: number[] = [];
  let readErrors = 0;
  const samples: Sample[] = [];
  let lastProbeAt = 0;
  const probeEveryMs = (intervalS * 1000) / probesPerInterval;
  const requests = new Set<Promise<void>>();
  let commit: { behind: number; total: number } | null = null;

  const post = (site: string, batch: { event: ServerEvent; bot: boolean }[]) => {
    const sentAt = Date.now();
    inFlight++;
    const p = (async () => {
      try {
        const res = await fetch(`${pipeline.collector.url}/api/events`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${pipeline.ingestToken[site]}`,
          },
          body: JSON.stringify({ site, events: batch.map((b) => b.event) }),
        });
        const text = await res.text();
        const ackedAt = Date.now();
        if (res.status !== 202) {
          errors += batch.length;
          errorStatuses[res.status] = (errorStatuses[res.status] ?? 0) + 1;
          return;
        }
        acked += batch.length;
        accepted += (JSON.parse(text) as { accepted: number }).accepted;
        ackMs.push(ackedAt - sentAt);
        if (ackedAt - lastProbeAt >= probeEveryMs) {
          const human = batch.find((b) => !b.bot && b.event.event_id);
          if (human?.event.event_id) {
            lastProbeAt = ackedAt;
            probes.add({ site, eventId: human.event.event_id, ackedAt });
          }
        }
      } catch (err) {
        errors += batch.length;
        const key = (err as Error).name;
        errorStatuses[key] = (errorStatuses[key] ?? 0) + 1;
      } finally {
        inFlight--;
      }
    })();
    requests.add(p);
    void p.finally(() => requests.delete(p));
  };

  // Sampling: every interval, throughput since the last sample, freshness of probes seen since, RSS.
  let lastSample = { at: startedAt, acked: 0, accepted: 0, errors: 0, seen: 0 };
  const sample = () => {
    const now = Date.now();
    const dt = (now - lastSample.at) / 1000;
    const fresh = probes.seen.slice(lastSample.seen).map((s) => s.ms);
    const rss: Sample['rss_mib'] = {};
    for (const [name, pid] of Object.entries(pids) as [ProcName, () => number | null][])
      rss[name] = rssMiB(pid());
    const s: Sample = {
      t_s: round((now - startedAt) / 1000, 1),
      acked_eps: round((acked - lastSample.acked) / dt, 1),
      accepted_eps: round((accepted - lastSample.accepted) / dt, 1),
      errors: errors - lastSample.errors,
      visits_in_flight: traffic.visitsInFlight,
      freshness_p50_ms: fresh.length
        ? percentile(
            [...fresh].sort((a, b) => a - b),
            50,
          )
        : null,
      freshness_max_ms: fresh.length ? Math.max(...fresh) : null,
      rss_mib: rss,
    };
    samples.push(s);
    lastSample = { at: now, acked, accepted, errors, seen: probes.seen.length };
    log(
      `[${String(Math.round(s.t_s)).padStart(5)} s] ${String(s.acked_eps).padStart(6)} ev/s acked, ` +
        `fresh p50 ${s.freshness_p50_ms ?? '–'} ms, ${s.visits_in_flight} visits, ${s.errors} errors | RSS MiB ` +
        Object.entries(rss)
          .map(([k, v]) => `${k} ${v ?? '–'}`)
          .join(', '),
    );
  };
  sample();
  const sampler = setInterval(sample, intervalS * 1000);

  // Dashboard-like reads through the api, one report every 2 s, so its memory is measured in use.
  const reports = ['summary', 'timeseries', 'breakdown', 'realtime', 'frequency', 'duration'] as const;
  let readCount = 0;
  const reader = setInterval(() => {
    const report = reports[readCount % reports.length] as string;
    const site = DEMO_SITES[readCount % DEMO_SITES.length] as string;
    readCount++;
    const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    const query = new URLSearchParams(
      report === 'realtime'
        ? {}
        : {
            from: day(Date.now() - 86_400_000),
            to: day(Date.now()),
            ...(report === 'breakdown' ? { by: 'page' } : {}),
            ...(report === 'timeseries' ? { interval: 'hour' } : {}),
          },
    );
    const at = Date.now();
    fetch(`${pipeline.api.url}/api/v1/sites/${site}/${report}?${query}`, {
      headers: { authorization: `Bearer ${pipeline.readToken[site]}` },
    })
      .then(async (res) => {
        await res.text();
        if (res.status === 200) readMs.push(Date.now() - at);
        else readErrors++;
      })
      .catch(() => readErrors++);
  }, 2000);

  // The send loop: each tick, the events owed by the rate so far (capped, so a stall is not followed
  // by a burst), grouped by site into one batch each.
  try {
    while (!stopping && Date.now() < endAt) {
      const now = Date.now();
      const owed = Math.floor(((now - startedAt) / 1000) * rate) - taken;
      const budget = Math.min(owed, Math.ceil(rate * 2));
      if (budget > 0 && inFlight < MAX_IN_FLIGHT) {
        const events = traffic.take(budget, now);
        taken += budget;
        const bySite = new Map<string, { event: ServerEvent; bot: boolean }[]>();
        for (const e of events) {
          const list = bySite.get(e.event.site) ?? [];
          list.push(e);
          bySite.set(e.event.site, list);
        }
        for (const [site, batch] of bySite) post(site, batch);
      } else if (budget > 0) {
        taken += budget; // the collector is behind: these events are skipped, and show as a lower rate
      }
      await new Promise((r) => setTimeout(r, TICK_MS));
    }
    await Promise.all([...requests]);
    clearInterval(sampler);
    clearInterval(reader);
    sample();
    // Let the last probes land (or give up) before the servers stop.
    const deadline = Date.now() + 30_000;
    while (probes.outstanding > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    await probes.stop();
    commit = await commitLag(pipeline).catch(() => null);
  } finally {
    clearInterval(sampler);
    clearInterval(reader);
    // The figures first: a slow cleanup (dropping the database on a busy server) must not lose the run.
    report({
      samples,
      startedAt,
      acked,
      accepted,
      errors,
      errorStatuses,
      ackMs,
      readMs,
      readErrors,
      probes,
      visits: traffic.visitsStarted,
      commit,
    });
    await pipeline.close().catch((err: unknown) => {
      log(`cleanup failed (the test database or topic may be left behind): ${String(err)}`);
    });
  }
}

function report(r: {
  samples: Sample[];
  startedAt: number;
  acked: number;
  accepted: number;
  errors: number;
  errorStatuses: Record<string, number>;
  ackMs: number[];
  readMs: number[];
  readErrors: number;
  probes: FreshnessProbes;
  visits: number;
  commit: { behind: number; total: number } | null;
}): void {
  const last = r.samples[r.samples.length - 1];
  const durationS = last?.t_s ?? 0;
  const warmupS = durationS * warmupFraction;
  const steady = r.samples.filter((s) => s.t_s >= warmupS && s.t_s > 0);
  const fresh = r.probes.seen.map((s) => s.ms).sort((a, b) => a - b);
  const acks = [...r.ackMs].sort((a, b) => a - b);
  const procs = Object.keys(r.samples[0]?.rss_mib ?? {}) as ProcName[];

  const figures: Figure[] = [
    {
      name: 'throughput (events acknowledged per second)',
      value: round(r.acked / durationS, 1),
      unit: 'events/s',
      target: `${rate} (the offered rate)`,
    },
    {
      name: 'throughput after warm-up',
      value: round(steady.reduce((a, s) => a + s.acked_eps, 0) / Math.max(1, steady.length), 1),
      unit: 'events/s',
    },
    { name: 'events acknowledged', value: r.acked, unit: 'events' },
    { name: 'events refused or failed', value: r.errors, unit: 'events', target: '0' },
    { name: 'collector ack latency p50', value: percentile(acks, 50), unit: 'ms' },
    { name: 'collector ack latency p99', value: percentile(acks, 99), unit: 'ms' },
    { name: 'freshness p50 (ack → row in events_raw)', value: percentile(fresh, 50), unit: 'ms' },
    { name: 'freshness p99 (ack → row in events_raw)', value: percentile(fresh, 99), unit: 'ms' },
    {
      name: 'api report p50 (one every 2 s)',
      value: percentile(
        [...r.readMs].sort((a, b) => a - b),
        50,
      ),
      unit: 'ms',
    },
    {
      name: 'api report p99',
      value: percentile(
        [...r.readMs].sort((a, b) => a - b),
        99,
      ),
      unit: 'ms',
    },
    { name: 'api reports failed', value: r.readErrors, unit: 'reports', target: '0' },
    {
      name: 'freshness probes (seen / never seen)',
      value: fresh.length,
      unit: `seen, ${r.probes.missing} never`,
    },
  ];
  if (r.commit) {
    // How much a restarted sessionizer would replay: its commit points must follow the stream.
    figures.push({
      name: 'sessionizer commit lag at the end (messages a restart replays)',
      value: r.commit.behind,
      unit: `of ${r.commit.total} messages`,
    });
  }
  const growth: Record<string, ReturnType<typeof memoryGrowth>> = {};
  for (const p of procs) {
    const series = steady
      .map((s) => ({ t: s.t_s * 1000, mib: s.rss_mib[p] ?? null }))
      .filter((s): s is { t: number; mib: number } => s.mib !== null);
    const g = memoryGrowth(series);
    growth[p] = g;
    if (!g) continue;
    figures.push(
      { name: `${p} RSS after warm-up`, value: round(g.start, 1), unit: 'MiB' },
      { name: `${p} RSS at end`, value: round(g.end, 1), unit: 'MiB' },
      { name: `${p} RSS growth after warm-up`, value: round(g.growthPct, 1), unit: '%', target: '< 10' },
    );
  }

  // A coarse memory table over time (about ten rows), for the README.
  const step = Math.max(1, Math.floor(r.samples.length / 10));
  const rows = r.samples.filter((_, i) => i % step === 0 || i === r.samples.length - 1);
  const table = [
    `| t (min) | ev/s acked | fresh p50 (ms) | ${procs.map((p) => `${p} (MiB)`).join(' | ')} |`,
    `|---:|---:|---:|${procs.map(() => '---:|').join('')}`,
    ...rows.map(
      (s) =>
        `| ${round(s.t_s / 60, 1)} | ${s.acked_eps} | ${s.freshness_p50_ms ?? ''} | ${procs.map((p) => s.rss_mib[p] ?? '').join(' | ')} |`,
    ),
  ].join('\n');
  const summary = [
    '| process | RSS after warm-up (MiB) | RSS at end (MiB) | max (MiB) | growth | trend (MiB/h) |',
    '|---|---:|---:|---:|---:|---:|',
    ...procs.map((p) => {
      const g = growth[p];
      return g
        ? `| ${p} | ${round(g.start, 1)} | ${round(g.end, 1)} | ${round(g.max, 1)} | ${round(g.growthPct, 1)} % | ${round(g.slopeMiBPerHour, 1)} |`
        : `| ${p} | – | – | – | – | – |`;
    }),
  ].join('\n');
  log(
    `\nmemory over time:\n${table}\n\nmemory growth after warm-up (first ${warmupFraction * 100} % excluded):\n${summary}`,
  );
  if (Object.keys(r.errorStatuses).length) log(`errors by status: ${JSON.stringify(r.errorStatuses)}`);

  writeResult('soak', figures, {
    config: {
      minutes,
      rate,
      interval_s: intervalS,
      warmup_fraction: warmupFraction,
      site_gap_s: gapS,
      sessionizer_retention_s: retentionS,
      sessionizer_lateness_s: latenessS,
      time_scale: timeScale,
      visits_started: r.visits,
      duration_s: durationS,
    },
    errors_by_status: r.errorStatuses,
    memory_growth: growth,
    memory_table_markdown: table,
    memory_summary_markdown: summary,
    samples: r.samples,
  });
}

/** Messages between the sessionizer group's committed offsets and the end of the topic, all partitions. */
async function commitLag(p: Pipeline): Promise<{ behind: number; total: number }> {
  const admin = createKafka({ clientId: 'stint-soak', brokers: p.kafkaBrokers.split(',') }).admin();
  await admin.connect();
  try {
    const [committed] = await admin.fetchOffsets({ groupId: p.consumerGroup, topics: [p.topic] });
    const ends = await admin.fetchTopicOffsets(p.topic);
    let behind = 0;
    let total = 0;
    for (const end of ends) {
      const c = Number(committed?.partitions.find((x) => x.partition === end.partition)?.offset ?? -1);
      total += Number(end.high);
      behind += Number(end.high) - Math.max(0, c);
    }
    return { behind, total };
  } finally {
    await admin.disconnect();
  }
}

await main();

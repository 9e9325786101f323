/**
 * bench/api: every dashboard query's latency through the real api over HTTP on N million events
 * (default 10 M) in ClickHouse. `npx tsx bench/src/api-bench.ts [--events 10000000] [--runs 20]
 * [--cold-runs 10] [--only <name part>] [--reuse] [--name <result file>]`.
 * The data goes to the database `stint_bench_api` (kept between runs with --reuse).
 * Two figures per query: the api as configured (a repeated request of unchanged data is answered from
 * the api's result cache), and `uncached` (an api built without the cache: every request computes
 * the report in ClickHouse, as after each write to the data it reads). Then a third, `live`: the api
 * as configured with open sessions of the current month rewritten before each request, the way the
 * sessionizer writes (`--live-runs 0` skips it).
 * On a ClickHouse cluster (STINT_CLICKHOUSE_CLUSTER, the local `stack up --clickhouse-cluster`) the
 * same data is migrated in cluster mode and the figures go to `bench/results/api-cluster.json`. `--name`
 * writes `bench/results/<name>.json` instead (a comparison run that must not replace the headline figures).
 */
import { parseArgs } from 'node:util';
import { buildApi } from '@stint/api/app';
import {
  createClickHouse,
  createMigrationClient,
  dropDatabase,
  exec,
  LOCAL_SUFFIX,
  migrate,
  queryRows,
} from '@stint/infra/clickhouse';
import { addSite, createToken } from '@stint/infra/registry';
import { recordedClickHouseCluster, shardUrls } from '@stint/infra/stack';
import { generateBenchData } from './bench-data.ts';
import { type Figure, percentile, round, writeResult } from './results.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '10000000' },
    runs: { type: 'string', default: '20' },
    reuse: { type: 'boolean', default: false },
    'cold-runs': { type: 'string', default: '10' },
    'live-runs': { type: 'string', default: '20' },
    only: { type: 'string' },
    /** Result file under bench/results/ (default: api, or api-cluster on a cluster). */
    name: { type: 'string' },
  },
});
const database = 'stint_bench_api';
const site = 'bench.example';
const say = (m: string) => process.stderr.write(`bench/api: ${m}\n`);

const cluster = process.env.STINT_CLICKHOUSE_CLUSTER ?? '';
const admin = createMigrationClient({ requestTimeoutMs: 600_000 });
if (cluster) say(`cluster mode: ${cluster}`);
const layout = cluster ? recordedClickHouseCluster() : null;
const shards = layout?.name === cluster ? { shardUrls: shardUrls(layout) } : {};
const wanted = Number(values.events);
// What --reuse finds: the events kept from an earlier run (none when the database is not there).
const kept = await queryRows<{ c: string }>(
  admin,
  `SELECT count() AS c FROM system.tables WHERE database = '${database}' AND name = 'events_raw'`,
);
const have =
  Number(kept[0]?.c) > 0
    ? Number((await queryRows<{ c: string }>(admin, `SELECT count() AS c FROM ${database}.events_raw`))[0]?.c)
    : 0;
if (!values.reuse || have !== wanted) {
  say(`generating ${wanted.toLocaleString()} events…`);
  await dropDatabase(admin, database, cluster);
  await migrate({ client: admin, database, cluster, ...shards });
  const t = Date.now();
  await generateBenchData(admin, {
    database,
    site,
    events: wanted,
    days: 90,
    now: Math.floor(Date.now() / 1000),
  });
  say(`generated in ${((Date.now() - t) / 1000).toFixed(0)} s; merging parts…`);
  await mergeAll();
} else {
  // Data kept from an older version gets the newer migrations (and their backfills) first, then is
  // merged like freshly generated data (a backfill leaves the rollups in several parts).
  await migrate({ client: admin, database, cluster, ...shards, log: say });
  say('merging parts…');
  await mergeAll();
}

/**
 * Merges the data tables and the per-visitor rollups (migration 006) into one part per partition.
 * On a cluster: the local tables, through the first replica of each shard (OPTIMIZE … ON CLUSTER of
 * replicated tables fails on 18.16; a replica's merge is replicated to the others).
 */
async function mergeAll(): Promise<void> {
  const tables = [
    'sessions_raw',
    'events_raw',
    'visitor_first_seen',
    'visitor_sessions',
    'visitor_tombstones',
  ];
  if (!cluster) {
    for (const t of tables) await exec(admin, `OPTIMIZE TABLE ${database}.${t} FINAL`);
    return;
  }
  if (!layout)
    throw new Error('cluster mode: the merges need the local cluster (stint stack up --clickhouse-cluster)');
  for (const node of layout.nodes.filter((n) => n.replica === 1)) {
    const server = createMigrationClient({ url: `http://127.0.0.1:${node.http}`, requestTimeoutMs: 600_000 });
    try {
      for (const t of tables) {
        // 18.16 fails OPTIMIZE of an empty replicated table ("Unknown log entry type: 0").
        const parts = await queryRows<{ c: string }>(
          server,
          `SELECT count() AS c FROM system.parts WHERE database = '${database}' AND table = '${t}${LOCAL_SUFFIX}' AND active`,
        );
        if (Number(parts[0]?.c) > 0)
          await exec(server, `OPTIMIZE TABLE ${database}.${t}${LOCAL_SUFFIX} FINAL`);
      }
    } finally {
      await server.close();
    }
  }
}
const client = createClickHouse({ database, requestTimeoutMs: 300_000 });
await addSite(client, database, { site_id: site, timezone: 'Europe/Berlin' });
const token = await createToken(client, database, { site, scope: 'read' });
/** The cached api's counters: the live phase reports how many reports raced with a merge and ran again. */
const cacheStats = { hits: 0, misses: 0, bypassed: 0, raced: 0 };
const app = await buildApi({
  client,
  database,
  logger: false,
  staticRoot: null,
  reportCache: { stats: cacheStats },
});
const address = await app.listen({ host: '127.0.0.1', port: 0 });
const coldApp = await buildApi({ client, database, logger: false, staticRoot: null, reportCache: null });
const coldAddress = await coldApp.listen({ host: '127.0.0.1', port: 0 });

const today = new Date().toISOString().slice(0, 10);
const monthAgo = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);
const range = `from=${monthAgo}&to=${today}`;
const queries: [string, string][] = [
  ['summary (30 d)', `summary?${range}`],
  ['summary (30 d, compare)', `summary?${range}&compare=previous`],
  ['summary (30 d, filter country+device)', `summary?${range}&country=DE&device=mobile`],
  ['timeseries by day (30 d)', `timeseries?${range}&interval=day`],
  [
    'timeseries by hour (7 d)',
    `timeseries?from=${new Date(Date.now() - 7 * 86_400_000).toISOString().slice(0, 10)}&to=${today}&interval=hour`,
  ],
  ['breakdown source', `breakdown?${range}&by=source`],
  ['breakdown page', `breakdown?${range}&by=page`],
  ['breakdown entry_page', `breakdown?${range}&by=entry_page`],
  ['breakdown country', `breakdown?${range}&by=country`],
  ['breakdown browser', `breakdown?${range}&by=browser`],
  ['duration', `duration?${range}`],
  ['frequency', `frequency?${range}`],
  ['realtime', 'realtime'],
];
const runs = Number(values.runs);
const coldRuns = Number(values['cold-runs']);
const figures: Figure[] = [];
const coldFigures: Figure[] = [];
const detail: Record<string, { p50: number; p95: number; max: number }> = {};
const coldDetail: Record<string, { p50: number; p95: number; max: number }> = {};

async function measure(
  base: string,
  name: string,
  path: string,
  n: number,
  warmup: number,
  before?: () => Promise<void>,
) {
  const url = `${base}/api/v1/sites/${site}/${path}`;
  const times: number[] = [];
  for (let i = 0; i < n + warmup; i++) {
    await before?.();
    const t = performance.now();
    const res = await fetch(url, { headers: { authorization: `Bearer ${token.secret}` } });
    const body = await res.text();
    if (!res.ok) throw new Error(`${name}: ${res.status} ${body.slice(0, 300)}`);
    if (i >= warmup) times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return {
    p50: round(percentile(times, 50)),
    p95: round(percentile(times, 95)),
    max: round(times[times.length - 1] ?? 0),
  };
}

for (const [name, path] of queries) {
  if (values.only !== undefined && !name.includes(values.only)) continue;
  const d = await measure(address, name, path, runs, 2); // two warm-up runs
  detail[name] = d;
  // Repeated requests over unchanged data are answered from the api's result cache: useful, but not
  // the figure the target is about (any write to the range, e.g. the live sessionizer, invalidates it).
  figures.push({ name: `${name} p95, repeated request (result cache)`, value: d.p95, unit: 'ms' });
  say(`${name}: p50 ${d.p50} ms, p95 ${d.p95} ms`);
  if (coldRuns > 0 && name !== 'realtime') {
    const c = await measure(coldAddress, name, path, coldRuns, 1);
    coldDetail[name] = c;
    coldFigures.push({ name: `${name} p95, uncached`, value: c.p95, unit: 'ms', target: '< 200' });
    say(`${name} (uncached): p50 ${c.p50} ms, p95 ${c.p95} ms`);
  }
}
// Live: before each request the newest sessions are rewritten (same content, next version), as the
// sessionizer rewrites open sessions about every second: every write is a new part in the current
// month, so reports over ranges reaching it are computed again, while those over earlier months may
// stay cached. (Requests come at least as often as writes: the worst case for the cache.)
const liveRuns = Number(values['live-runs']);
const liveFigures: Figure[] = [];
const liveDetail: Record<string, { p50: number; p95: number; max: number }> = {};
let liveRaced = 0;
if (liveRuns > 0) {
  const columns = (
    await queryRows<{ name: string }>(
      client,
      `SELECT name FROM system.columns WHERE database = '${database}' AND table = 'sessions_raw' AND default_kind NOT IN ('MATERIALIZED', 'ALIAS')`,
    )
  ).map((r) => r.name);
  const cols = columns.join(', ');
  const next = columns.map((c) => (c === 'version' ? 'version + 1' : c)).join(', ');
  const newest = (
    await queryRows<{ t: string }>(
      client,
      `SELECT toUInt32(max(started_at)) - 3600 AS t FROM ${database}.sessions_raw WHERE site_id = '${site}'`,
    )
  )[0]?.t;
  const rewrite = `INSERT INTO ${database}.sessions_raw (${cols})
SELECT ${next} FROM ${database}.sessions_raw FINAL
WHERE site_id = '${site}' AND started_at >= toDateTime(${Number(newest)})
ORDER BY started_at DESC LIMIT 50`;
  const racedBefore = cacheStats.raced;
  let writes = 0;
  const write = async () => {
    await exec(client, rewrite);
    writes++;
  };
  const monthBefore = new Date(Date.now() - 60 * 86_400_000).toISOString().slice(0, 10);
  const live: [string, string][] = [
    ['summary (30 d)', `summary?${range}`],
    ['summary (30 d, compare)', `summary?${range}&compare=previous`],
    ['summary (the 30 d before)', `summary?from=${monthBefore}&to=${monthAgo}`],
    ['breakdown page', `breakdown?${range}&by=page`],
    ['frequency', `frequency?${range}`],
  ];
  for (const [name, path] of live) {
    if (values.only !== undefined && !name.includes(values.only)) continue;
    const d = await measure(address, name, path, liveRuns, 1, write);
    liveDetail[name] = d;
    liveFigures.push({
      name: `${name} p95, live (sessions written before each request)`,
      value: d.p95,
      unit: 'ms',
    });
    say(`${name} (live): p50 ${d.p50} ms, p95 ${d.p95} ms`);
  }
  liveRaced = cacheStats.raced - racedBefore;
  say(
    `live: ${writes} rewrites of 50 sessions, one before each request; ${liveRaced} reports raced with a write or merge and ran again`,
  );
}

const worst = Math.max(...Object.values(detail).map((d) => d.p95));
figures.unshift({ name: 'worst query p95, repeated request (result cache)', value: worst, unit: 'ms' });
if (coldFigures.length > 0) {
  const worstCold = Math.max(...Object.values(coldDetail).map((d) => d.p95));
  figures.unshift({
    name: 'worst dashboard query p95, uncached',
    value: worstCold,
    unit: 'ms',
    target: '< 200',
  });
}
figures.push(...coldFigures, ...liveFigures);
writeResult(values.name ?? (cluster ? 'api-cluster' : 'api'), figures, {
  events: wanted,
  ...(cluster ? { clickhouse_cluster: cluster } : {}),
  runs,
  detail,
  cold_runs: coldRuns,
  uncached: coldDetail,
  live_runs: liveRuns,
  live: liveDetail,
  live_raced: liveRaced,
});
await app.close();
await coldApp.close();
await client.close();
await admin.close();

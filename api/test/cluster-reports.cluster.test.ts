/**
 * Two shards give the same reports as one node. The fixture's sessions and events are written to a
 * database in cluster mode (Distributed tables over 2 shards x 2 replicas, inserts spread by visitor)
 * and to a single-node database on the cluster's first server; every report, with every filter, is
 * read through the api from both and must be equal, also to a single node whose months are merged
 * (which reads clean parts without FINAL; the cluster always reads with FINAL), and with the report
 * cache (whose fingerprints come from every shard's parts) answering the second time. The cluster's
 * months are not merged by hand: OPTIMIZE … ON CLUSTER of replicated tables fails on 18.16 ("Unknown
 * log entry type: 0"), which is also what OPTIMIZE of an empty replicated table answers (seen on
 * the cluster's servers; bench/src/api-bench.ts merges one replica per shard and skips empty tables).
 */
import { ident, insertRows, queryRows, type RawSql, sql } from '@stint/infra/clickhouse';
import { waitFor } from '@stint/infra/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BREAKDOWNS, INTERVALS } from '../src/queries/index.ts';
import type { CacheStats } from '../src/report-cache.ts';
import { buildSessions, FILTER_CASES, qs, RANGE, sessionRow } from './fixture.ts';
import { type FixtureApi, fixtureApi, lateCorrectionVictim } from './fixture-api.ts';

const CLUSTER = process.env.STINT_CLICKHOUSE_CLUSTER ?? '';

/** Every report, each with the plain range, every filter case and a comparison with the previous period. */
function reportPaths(): string[] {
  const ranged = (path: string) => [
    ...FILTER_CASES.map((f) => `${path}${path.includes('?') ? '&' : '?'}${RANGE}${qs(f)}`),
    `${path}${path.includes('?') ? '&' : '?'}${RANGE}&compare=previous`,
  ];
  return [
    ...ranged('summary'),
    ...INTERVALS.flatMap((i) => ranged(`timeseries?interval=${i}`)),
    ...BREAKDOWNS.flatMap((by) => ranged(`breakdown?by=${by}`)),
    ...ranged('duration'),
    ...ranged('frequency'),
    'realtime',
  ];
}

const sessions = buildSessions();
const apis: Record<string, FixtureApi> = {};
const clusterStats: CacheStats = { hits: 0, misses: 0, bypassed: 0, raced: 0 };

beforeAll(async () => {
  expect(CLUSTER, 'the cluster suite runs with STINT_CLICKHOUSE_CLUSTER set').not.toBe('');
  const cache = { settleSeconds: 0 };
  const [cluster, single, singleMerged] = await Promise.all([
    fixtureApi('cluster_reports', sessions, { reportCache: { ...cache, stats: clusterStats } }),
    fixtureApi('single_reports', sessions, { reportCache: cache, cluster: '' }),
    fixtureApi('single_reports_m', sessions, { reportCache: cache, cluster: '', merged: true }),
  ]);
  Object.assign(apis, { cluster, single, singleMerged });
});

afterAll(async () => {
  await Promise.all(Object.values(apis).map((a) => a.close()));
});

describe('the api over two shards', () => {
  it('spreads the fixture over both shards, each replica holding its shard', async () => {
    const db = apis.cluster?.db;
    if (!db) throw new Error('no cluster database');
    const hosts = await queryRows<{ address: string; shard: number | string }>(
      db.client,
      sql`SELECT concat(host_address, ':', toString(port)) AS address, shard_num AS shard
          FROM system.clusters WHERE cluster = ${CLUSTER}`,
    );
    const count = async (from: RawSql) =>
      Number((await queryRows<{ n: string }>(db.client, sql`SELECT count() AS n FROM ${from}`))[0]?.n);
    const total = await count(sql`${ident(db.database)}.sessions_raw`);
    const shards = [...new Set(hosts.map((h) => String(h.shard)))];
    expect(shards.length).toBeGreaterThanOrEqual(2);
    let sum = 0;
    for (const shard of shards) {
      const replicas = hosts.filter((h) => String(h.shard) === shard);
      let counts: number[] = [];
      // Replication is asynchronous: every replica of the shard holds its rows within seconds.
      await waitFor(
        async () => {
          counts = await Promise.all(
            replicas.map((h) => count(sql`remote(${h.address}, ${ident(db.database)}.sessions_raw_local)`)),
          );
          return counts.every((n) => n > 0 && n === counts[0]);
        },
        { timeoutMs: 30_000, message: `every replica of shard ${shard} holding its sessions` },
      );
      sum += counts[0] ?? 0;
    }
    expect(sum).toBe(total);
  });

  const paths = reportPaths();
  it(`gives the same ${paths.length} reports as one node, merged or not, cached or not`, async () => {
    const { cluster, single, singleMerged } = apis;
    if (!cluster || !single || !singleMerged) throw new Error('fixtures missing');
    for (const path of paths) {
      const want = await single.get(path);
      expect(await singleMerged.get(path), `one node, merged: ${path}`).toEqual(want);
      expect(await cluster.get(path), `two shards: ${path}`).toEqual(want);
    }
    // The second time the cache answers (its fingerprints list every shard's parts): still equal.
    const hits = clusterStats.hits;
    for (const path of paths)
      expect(await cluster.get(path), `two shards, cached: ${path}`).toEqual(await single.get(path));
    expect(clusterStats.hits - hits).toBeGreaterThanOrEqual(paths.length);
  });

  it('a late correction on one shard reaches the cached reports at once', async () => {
    const { cluster, single } = apis;
    if (!cluster || !single) throw new Error('fixtures missing');
    const path = `summary?${RANGE}`;
    const before = await cluster.get(path);
    expect(await cluster.get(path)).toEqual(before);
    // A tombstone for one session, written to both: the shard holding it gets a new part.
    const victim = lateCorrectionVictim(sessions);
    for (const fx of [cluster, single]) {
      await insertRows(fx.db.client, `${fx.db.database}.sessions_raw`, [sessionRow(victim, 9, 1)]);
    }
    const after = await cluster.get(path);
    expect(after.data.sessions).toBe(before.data.sessions - 1);
    expect(after).toEqual(await single.get(path));
  });
});

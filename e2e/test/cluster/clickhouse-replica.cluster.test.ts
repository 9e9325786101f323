/**
 * One ClickHouse replica stopped while the sessionizer writes, on the local 2 x 2 cluster (cluster
 * mode: Distributed tables over Replicated ones). The sessionizer's inserts go through the
 * Distributed tables of the first server, synchronously to one replica of each shard: with shard 2's
 * first replica down they go to its second one, so writes continue. Afterwards every acknowledged
 * event is stored once and the sessions equal the reference sessionizer's (e2e/src/reference.ts),
 * the stopped replica catches up, and every replica of a shard holds the same sessions and events.
 */
import { ident, queryRows, sql } from '@stint/infra/clickhouse';
import { clickhouseNodeDown, clickhouseNodeUp, recordedClickHouseCluster } from '@stint/infra/stack';
import { waitFor } from '@stint/infra/testing';
import { afterAll, expect, onTestFailed, test } from 'vitest';
import {
  FAULT_SITE,
  figures,
  sleep,
  startFaultPipeline,
  startLoad,
  waitForLedger,
} from '../../src/faults.ts';
import type { Pipeline } from '../../src/pipeline.ts';

const log = (m: string) => process.stderr.write(`${m}\n`);
let pipeline: Pipeline | undefined;
let stopped: string | undefined;

afterAll(async () => {
  if (stopped) await clickhouseNodeUp(stopped, log);
  await pipeline?.close();
});

/** One replica's own rows (its local table, FINAL, live ones), as sorted lines to compare. */
async function replicaRows(p: Pipeline, address: string, table: 'sessions_raw' | 'events_raw') {
  const key = table === 'sessions_raw' ? 'session_id' : 'event_id';
  const cols =
    table === 'sessions_raw'
      ? sql`session_id, visitor_id, toString(started_at) AS s, duration_s, events, pageviews, version`
      : sql`event_id, session_id, version`;
  const rows = await queryRows<Record<string, unknown>>(
    p.client,
    sql`SELECT ${cols} FROM remote(${address}, ${ident(p.database)}.${ident(`${table}_local`)}) FINAL
        WHERE site_id = ${FAULT_SITE} ${table === 'sessions_raw' ? sql`AND deleted = 0` : sql``} ORDER BY ${ident(key)}`,
  );
  return rows.map((r) => JSON.stringify(r));
}

test('a replica stopped under load: writes go on, nothing is lost, it catches up, every replica holds its shard', async () => {
  const started = Date.now();
  const layout = recordedClickHouseCluster();
  if (!layout) throw new Error('no local ClickHouse cluster: `npm run test:cluster` starts it');
  const victim = layout.nodes.find((n) => n.shard === 2 && n.replica === 1);
  if (!victim || layout.replicas < 2) throw new Error('the cluster needs two replicas in shard 2');
  const seed = Number(process.env.E2E_SEED) || Date.now() % 100_000;
  const p = await startFaultPipeline('ch_replica');
  pipeline = p;
  onTestFailed(() => console.error(`seed ${seed}\n${p.logs(40)}`));
  const events = 3000;
  const sender = startLoad(p, { seed, events, rate: 150 });
  await sender.acked(Math.floor(0.3 * events));
  const down = Date.now();
  stopped = victim.name;
  await clickhouseNodeDown(victim.name);
  // Writes keep going to the other replica of the shard meanwhile: rows land in the views.
  const storedDuring = async () =>
    Number(
      (
        await queryRows<{ n: string }>(
          p.client,
          sql`SELECT count() AS n FROM events WHERE site_id = ${FAULT_SITE}`,
        )
      )[0]?.n,
    );
  const before = await storedDuring();
  await sleep(10_000);
  const during = await storedDuring();
  await clickhouseNodeUp(victim.name, log);
  stopped = undefined;
  const outageMs = Date.now() - down;
  await sender.done;
  const c = await waitForLedger(p, sender, 120_000);
  console.info(
    `${figures(`ClickHouse replica ${victim.name} stopped`, sender, c, Date.now() - started)}; outage ${outageMs} ms; events stored during it ${before} → ${during}`,
  );
  expect(c.problems).toEqual([]);
  expect(c.storedEvents).toBe(events);
  expect(during, 'writes went on while a replica was down').toBeGreaterThan(before);

  // Every replica of a shard holds the same rows (the stopped one caught up), shards split them.
  const hosts = await queryRows<{ address: string; shard: number | string }>(
    p.client,
    sql`SELECT concat(host_address, ':', toString(port)) AS address, shard_num AS shard
        FROM system.clusters WHERE cluster = ${layout.name} ORDER BY shard_num, replica_num`,
  );
  for (const table of ['sessions_raw', 'events_raw'] as const) {
    let total = 0;
    for (const shard of new Set(hosts.map((h) => String(h.shard)))) {
      const replicas = hosts.filter((h) => String(h.shard) === shard);
      let rows: string[][] = [];
      await waitFor(
        async () => {
          rows = await Promise.all(replicas.map((h) => replicaRows(p, h.address, table)));
          return rows.every((r) => r.length > 0 && r.join('\n') === rows[0]?.join('\n'));
        },
        {
          timeoutMs: 60_000,
          intervalMs: 1000,
          message: `every replica of shard ${shard} holding the same ${table}`,
        },
      );
      total += rows[0]?.length ?? 0;
    }
    expect(total, `${table}: the shards together hold every row once`).toBe(
      table === 'sessions_raw' ? c.storedSessions : c.storedEvents,
    );
  }
  expect([p.collector.running(), ...p.sessionizers.map((s) => s.running())]).toEqual([true, true]);
});

/**
 * One ClickHouse replica stopped while the sessionizer writes, on the local 2 x 2 cluster (cluster
 * mode: Distributed tables over Replicated ones). The sessionizer's inserts go through the
 * Distributed tables of the first server, synchronously to one replica of each shard: with shard 2's
 * first replica down they go to its second one, so writes continue. Afterwards every acknowledged
 * event is stored once and the sessions equal the reference sessionizer's (e2e/src/reference.ts),
 * the stopped replica catches up, and every replica of a shard holds the same sessions and events.
 * Then the same with the server the services talk to (CLICKHOUSE_URL, shard 1's first replica)
 * stopped: every insert fails until it is back, so writes pause (the sessionizer retries and commits
 * no offset past an unstored row), and afterwards the same checks hold.
 */
import { createClickHouse, ident, queryRows, sql } from '@stint/infra/clickhouse';
import {
  type ClickHouseNode,
  clickhouseNodeDown,
  clickhouseNodeUp,
  recordedClickHouseCluster,
} from '@stint/infra/stack';
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

interface Case {
  label: string;
  /** Which server to stop. */
  pick: (n: ClickHouseNode) => boolean;
  /** What the services' writes do while it is down. */
  writes: 'go on' | 'pause';
}

async function replicaStopped({ label, pick, writes }: Case): Promise<void> {
  const started = Date.now();
  const layout = recordedClickHouseCluster();
  if (!layout) throw new Error('no local ClickHouse cluster: `npm run test:cluster` starts it');
  const victim = layout.nodes.find(pick);
  if (!victim || layout.replicas < 2) throw new Error('the cluster needs two replicas in each shard');
  // A server that stays up, to count the stored rows while the victim is down.
  const witness = layout.nodes.find((n) => n.shard === victim.shard && n !== victim);
  if (!witness) throw new Error(`no other replica of shard ${victim.shard}`);
  const seed = Number(process.env.E2E_SEED) || Date.now() % 100_000;
  const p = await startFaultPipeline(label);
  pipeline = p;
  const witnessClient = createClickHouse({ url: `http://127.0.0.1:${witness.http}`, database: p.database });
  onTestFailed(() => console.error(`seed ${seed}\n${p.logs(40)}`));
  try {
    const events = 3000;
    const sender = startLoad(p, { seed, events, rate: 150 });
    await sender.acked(Math.floor(0.3 * events));
    const down = Date.now();
    stopped = victim.name;
    await clickhouseNodeDown(victim.name);
    const storedDuring = async () =>
      Number(
        (
          await queryRows<{ n: string }>(
            witnessClient,
            sql`SELECT count() AS n FROM events WHERE site_id = ${FAULT_SITE}`,
          )
        )[0]?.n,
      );
    // An insert the victim took just before it stopped may still be arriving at the witness.
    await sleep(2000);
    const before = await storedDuring();
    await sleep(10_000);
    const during = await storedDuring();
    await clickhouseNodeUp(victim.name, log);
    stopped = undefined;
    const outageMs = Date.now() - down;
    await sender.done;
    const c = await waitForLedger(p, sender, 120_000);
    console.info(
      `${figures(`ClickHouse ${victim.name} stopped (writes ${writes})`, sender, c, Date.now() - started)}; outage ${outageMs} ms; events stored during it ${before} → ${during}`,
    );
    expect(c.problems).toEqual([]);
    expect(c.storedEvents).toBe(events);
    if (writes === 'go on') expect(during, 'writes went on while a replica was down').toBeGreaterThan(before);
    else expect(during, 'writes paused while the server the services use was down').toBe(before);

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
  } finally {
    await witnessClient.close();
    await p.close();
    pipeline = undefined;
  }
}

test('a replica stopped under load: writes go on, nothing is lost, it catches up, every replica holds its shard', () =>
  replicaStopped({
    label: 'ch_replica',
    pick: (n) => n.shard === 2 && n.replica === 1,
    writes: 'go on',
  }));

test('the server the services talk to stopped under load: writes pause, nothing is lost, it catches up', () =>
  replicaStopped({
    label: 'ch_entry',
    // CLICKHOUSE_URL's server: every service's inserts and reads go through its Distributed tables.
    pick: (n) => n.shard === 1 && n.replica === 1,
    writes: 'pause',
  }));

/**
 * A backfill of an old year while live traffic of the same site flows, through the real collector,
 * Kafka, sessionizer and ClickHouse. Live events go to POST /api/events (the events topic), the
 * backfill to POST /api/import (the imports topic, no lower bound on its times): each topic's
 * partitions keep their own watermarks, so the 2016 events are sessionized on their own event time
 * and not as "very late" events behind today's.
 */
import { queryRows, sql } from '@stint/infra/clickhouse';
import { afterAll, beforeAll, expect, onTestFailed, test } from 'vitest';
import { arrivalOrder, generateVisits, type LedgerEvent, startSender } from '../src/load.ts';
import { type Pipeline, startPipeline } from '../src/pipeline.ts';
import { compareWithLedger } from '../src/reference.ts';

const SITE = 'backfill.test';
const GAP_S = 1800;
const OLD_YEAR_START = Date.UTC(2016, 2, 1, 6, 0, 0);
const OLD_YEAR_END = Date.UTC(2017, 0, 1);

let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline({
    label: 'backfill',
    sites: [{ site_id: SITE, gap_s: GAP_S }],
    partitions: 3,
    api: false,
  });
});

afterAll(async () => {
  await pipeline?.close();
});

test('a 2016 backfill while live events of the same site flow: both exact, old sessions final', async () => {
  onTestFailed(() => {
    process.stderr.write(pipeline.logs(40));
  });
  // Live: visits of the last hours, sent as a server-side sender would (event time ≈ now, a little
  // behind). Backfill: 40 visitors over a week of 2016, several visits each.
  const live = generateVisits({
    seed: 2011,
    visitors: 30,
    events: 1200,
    gapS: GAP_S,
    startMs: Date.now() - 6 * 3600_000,
  }).filter((e) => e.ts < Date.now());
  const old = generateVisits({
    seed: 2012,
    visitors: 40,
    events: 3000,
    gapS: GAP_S,
    startMs: OLD_YEAR_START,
  });
  expect(old.every((e) => e.ts < OLD_YEAR_END)).toBe(true);

  const collectorUrl = () => pipeline.collector.url;
  const token = pipeline.ingestToken[SITE] as string;
  // Both arrive mostly in order, some events up to 100 s late and a few up to 6 min (very late).
  const liveSender = startSender({
    collectorUrl,
    site: SITE,
    token,
    events: arrivalOrder(live, 1),
    rate: 150,
    batchSize: 20,
  });
  await liveSender.acked(200);
  // The backfill starts while the live sender is still sending, and runs faster than it.
  const backfill = startSender({
    collectorUrl,
    site: SITE,
    token,
    events: arrivalOrder(old, 2),
    rate: 1500,
    batchSize: 200,
    endpoint: '/api/import',
  });
  await Promise.all([liveSender.done, backfill.done]);

  // The old events are older than the collector's bound for POST /api/events (730 days):
  const refused = await fetch(`${pipeline.collector.url}/api/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      site: SITE,
      events: [
        {
          site: SITE,
          name: 'pageview',
          url: `https://${SITE}/`,
          visitor_id: 'visitor-old-1',
          ts: OLD_YEAR_START,
        },
      ],
    }),
  });
  expect(refused.status).toBe(400);
  expect(((await refused.json()) as { error: string }).error).toBe('ts_too_old');

  const ledger = new Map<string, LedgerEvent>([...liveSender.ledger, ...backfill.ledger]);
  expect(ledger.size).toBe(live.length + old.length);
  let last = await compareWithLedger(pipeline.client, SITE, ledger, GAP_S);
  const deadline = Date.now() + 90_000;
  while (last.problems.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    last = await compareWithLedger(pipeline.client, SITE, ledger, GAP_S);
  }
  expect(last.problems.slice(0, 20)).toEqual([]);
  expect(last.storedSessions).toBe(last.expectedSessions);

  // Every 2016 session is final (its own topic's watermark, or the idle tick, has passed it).
  const waitFinal = Date.now() + 30_000;
  let open = -1;
  while (Date.now() < waitFinal) {
    const rows = await queryRows<{ open: string; total: string }>(
      pipeline.client,
      sql`SELECT countIf(is_final = 0) AS open, count() AS total FROM sessions
          WHERE site_id = ${SITE} AND started_at < toDateTime(${Math.floor(OLD_YEAR_END / 1000)})`,
    );
    open = Number(rows[0]?.open);
    expect(Number(rows[0]?.total)).toBeGreaterThan(40);
    if (open === 0) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  expect(open).toBe(0);

  // The backfill went through the imports topic, with its own watermarks: none of its events was
  // very late (behind the watermark) for the sessionizer, although live events were far ahead.
  const metrics = await (await fetch(`${pipeline.sessionizers[0]?.url}/metrics`)).text();
  const veryLate = Number(/^stint_sessionizer_very_late_events_total (\d+)/m.exec(metrics)?.[1] ?? 'NaN');
  expect(veryLate).toBeLessThan(old.length / 10);
  process.stdout.write(
    `[backfill] ${live.length} live + ${old.length} backfill events; ${last.storedSessions} sessions match the reference; very late: ${veryLate}\n`,
  );
}, 240_000);

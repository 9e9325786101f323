/**
 * Two collectors in front of one cookieless site (e2e/test/two-collectors.int.test.ts on one
 * ClickHouse server, e2e/test/cluster/two-collectors.cluster.test.ts on two servers of a cluster): a
 * visitor whose requests alternate between them is one visitor and one session; another browser on
 * the same address is another visitor; each collector's cache file holds the same salt and secret.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryRows, sql } from '@stint/infra/clickhouse';
import { waitFor } from '@stint/infra/testing';
import { expect } from 'vitest';
import { type Pipeline, type Service, startPipeline } from '../src/pipeline.ts';

export const COOKIELESS_SITE = 'two-collectors.test';
export const UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
const OTHER_UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0';
const SITE = COOKIELESS_SITE;

export async function pageview(collector: Service, path: string, ua = UA): Promise<void> {
  const res = await fetch(`${collector.url}/api/event`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': ua },
    body: JSON.stringify({ site: SITE, name: 'pageview', url: `https://${SITE}${path}` }),
  });
  expect(res.status).toBe(202);
}

/** `second` was started with its data directory `secondHome` (its salt file there). */
export async function expectOneCookielessVisitor(pipeline: Pipeline, second: Service, secondHome: string) {
  const collectors = [pipeline.collector, second];
  for (let i = 0; i < 6; i++) await pageview(collectors[i % 2] as Service, `/page-${i}`);
  // Another browser on the same address: another visitor (the ids are not one constant).
  await pageview(second, '/other', OTHER_UA);

  const rows = await waitFor(
    async () => {
      const r = await queryRows<{ visitor_id: string; session_id: string; path: string }>(
        pipeline.client,
        sql`SELECT visitor_id, session_id, path FROM events WHERE site_id = ${SITE} ORDER BY ts, path`,
      );
      return r.length >= 7 ? r : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 500, message: 'the 7 events in ClickHouse' },
  );
  const visit = rows.filter((r) => r.path.startsWith('/page-'));
  expect(visit).toHaveLength(6);
  expect(new Set(visit.map((r) => r.visitor_id)).size).toBe(1);
  expect(new Set(visit.map((r) => r.session_id)).size).toBe(1);
  const other = rows.find((r) => r.path === '/other');
  expect(other?.visitor_id).not.toBe(visit[0]?.visitor_id);

  const sessions = await waitFor(
    async () => {
      const r = await queryRows<{ session_id: string; pageviews: string }>(
        pipeline.client,
        sql`SELECT session_id, pageviews FROM sessions
            WHERE site_id = ${SITE} AND visitor_id = ${visit[0]?.visitor_id ?? ''}`,
      );
      return r.length > 0 && Number(r[0]?.pageviews) === 6 ? r : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 500, message: 'one session of 6 page views' },
  );
  expect(sessions).toHaveLength(1);

  // Each collector keeps its own cache file, in its own data directory, with the same salt.
  const today = new Date().toISOString().slice(0, 10);
  const first = JSON.parse(readFileSync(join(pipeline.logDir, 'salts.json'), 'utf8'));
  const other2 = JSON.parse(readFileSync(join(secondHome, 'salts.json'), 'utf8'));
  expect(first.salts[today]).toMatch(/^[0-9a-f]{64}$/);
  expect(other2.salts[today]).toBe(first.salts[today]);
  expect(other2.secret).toBe(first.secret);
}

/**
 * A pipeline (sessionizer, no api) with two collectors of their own data directories, started at
 * once on a database without salts, so they race to create the day's salt. `secondEnv` on top of the
 * second collector's environment (another ClickHouse server, say).
 */
export async function startTwoCollectors(label: string, secondEnv: Record<string, string> = {}) {
  const pipeline = await startPipeline({
    label,
    sites: [{ site_id: COOKIELESS_SITE, gap_s: 1800 }],
    partitions: 3,
    api: false,
    collector: false,
  });
  const secondHome = mkdtempSync(join(tmpdir(), 'stint-collector-2-'));
  const [, second] = await Promise.all([
    pipeline.collector.start(),
    pipeline.addCollector({
      STINT_HOME: secondHome,
      COLLECTOR_SALT_FILE: join(secondHome, 'salts.json'),
      ...secondEnv,
    }),
  ]);
  return { pipeline, second, secondHome };
}

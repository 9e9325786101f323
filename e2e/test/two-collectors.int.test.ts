/**
 * Two collectors, separate processes with separate data directories, started at the same moment in
 * front of one cookieless site: a visitor whose requests alternate between them keeps one visitor
 * id and one session, because both take the day's salt from the shared store in ClickHouse.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryRows, sql } from '@stint/infra/clickhouse';
import { waitFor } from '@stint/infra/testing';
import { afterAll, beforeAll, expect, onTestFailed, test } from 'vitest';
import type { Pipeline, Service } from '../src/pipeline.ts';
import {
  COOKIELESS_SITE,
  expectOneCookielessVisitor,
  startTwoCollectors,
  UA,
} from './two-collectors-check.ts';

const SITE = COOKIELESS_SITE;

let pipeline: Pipeline;
let second: Service;
let secondHome: string;

beforeAll(async () => {
  ({ pipeline, second, secondHome } = await startTwoCollectors('two_collectors'));
});

afterAll(async () => {
  await pipeline?.close();
});

test('a cookieless visitor alternating between two collectors has one visitor id and one session', async () => {
  onTestFailed(() => {
    process.stderr.write(pipeline.logs(40));
  });
  await expectOneCookielessVisitor(pipeline, second, secondHome);
});

/** A request on a connection of its own, so node:cluster hands it to the next worker. */
function fresh(
  url: string,
  init: { method: string; body?: string; ua?: string },
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: init.method,
        agent: false,
        headers: { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': init.ua ?? UA },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.once('error', reject);
    req.end(init.body);
  });
}

const metric = (text: string, name: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
};

test('COLLECTOR_PROCESSES=2: two workers on one port, same salts, /metrics aggregated over both', async () => {
  onTestFailed(() => {
    process.stderr.write(pipeline.logs(40));
  });
  const home = mkdtempSync(join(tmpdir(), 'stint-collector-cluster-'));
  const clustered = await pipeline.addCollector({
    COLLECTOR_PROCESSES: '2',
    STINT_HOME: home,
    COLLECTOR_SALT_FILE: join(home, 'salts.json'),
  });
  // /readyz answers as soon as one worker listens; wait for both to be in the aggregate.
  await waitFor(
    async () =>
      metric(
        (await fresh(`${clustered.url}/metrics`, { method: 'GET' })).text,
        'stint_collector_processes',
      ) === 2,
    { timeoutMs: 60_000, intervalMs: 300, message: 'both workers in /metrics' },
  );
  const sent = 20;
  for (let i = 0; i < sent; i++) {
    const res = await fresh(`${clustered.url}/api/event`, {
      method: 'POST',
      body: JSON.stringify({ site: SITE, name: 'pageview', url: `https://${SITE}/cluster-${i}` }),
    });
    expect(res.status).toBe(202);
  }
  // Every scrape, whichever worker it reaches, counts the events of both.
  for (let i = 0; i < 6; i++) {
    const text = (await fresh(`${clustered.url}/metrics`, { method: 'GET' })).text;
    expect(metric(text, 'stint_collector_processes')).toBe(2);
    expect(metric(text, 'stint_collector_events_accepted_total{endpoint="event"}')).toBe(sent);
  }
  const log = readFileSync(join(pipeline.logDir, `${clustered.name}.log`), 'utf8');
  expect(log).toContain('collector worker 0 listening');
  expect(log).toContain('collector worker 1 listening');

  // Both workers hash the same visitor with the same shared salt as the other two collectors.
  const ids = await waitFor(
    async () => {
      const r = await queryRows<{ visitor_id: string }>(
        pipeline.client,
        sql`SELECT DISTINCT visitor_id FROM events WHERE site_id = ${SITE} AND path LIKE '/cluster-%'`,
      );
      const n = await queryRows<{ n: string }>(
        pipeline.client,
        sql`SELECT count() AS n FROM events WHERE site_id = ${SITE} AND path LIKE '/cluster-%'`,
      );
      return Number(n[0]?.n) === sent ? r : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 500, message: "the cluster's events in ClickHouse" },
  );
  const visit = await queryRows<{ visitor_id: string }>(
    pipeline.client,
    sql`SELECT DISTINCT visitor_id FROM events WHERE site_id = ${SITE} AND path LIKE '/page-%'`,
  );
  expect(ids).toHaveLength(1);
  expect(ids[0]?.visitor_id).toBe(visit[0]?.visitor_id);
});

test('COLLECTOR_PROCESSES=2: the per-IP rate limit holds for the install, not per worker', async () => {
  onTestFailed(() => {
    process.stderr.write(pipeline.logs(40));
  });
  const limit = 20;
  const home = mkdtempSync(join(tmpdir(), 'stint-collector-limit-'));
  const limited = await pipeline.addCollector({
    COLLECTOR_PROCESSES: '2',
    COLLECTOR_RATE_LIMIT_PER_MINUTE: String(limit),
    STINT_HOME: home,
    COLLECTOR_SALT_FILE: join(home, 'salts.json'),
  });
  await waitFor(
    async () =>
      metric((await fresh(`${limited.url}/metrics`, { method: 'GET' })).text, 'stint_collector_processes') ===
      2,
    { timeoutMs: 60_000, intervalMs: 300, message: 'both workers in /metrics' },
  );
  // One client (127.0.0.1) sends twice the limit within the minute, each request on a connection of
  // its own so the workers take turns. Workers that each allowed the whole limit would accept all 40.
  const answers: Record<number, number> = {};
  for (let i = 0; i < 2 * limit; i++) {
    const res = await fresh(`${limited.url}/api/event`, {
      method: 'POST',
      body: JSON.stringify({ site: SITE, name: 'pageview', url: `https://${SITE}/limit-${i}` }),
    });
    answers[res.status] = (answers[res.status] ?? 0) + 1;
  }
  expect(Object.keys(answers).sort()).toEqual(['202', '429']);
  // Round-robin hands each worker 20 of the 40: each accepts its share of 10.
  expect(answers[202]).toBe(limit);
  expect(answers[429]).toBe(limit);
});

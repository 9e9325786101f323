/**
 * Bad input at scale: thousands of generated malformed and hostile requests against the REAL
 * collector and api (child processes, real Kafka and ClickHouse). A second site holds fixture data
 * with distinctive strings; no answer to anyone but site B may ever contain them.
 * The counts (requests by class, answers by status) go to test-artifacts/fuzz-counts.json for the README.
 * Replay a run with FUZZ_SEED=<seed>; FUZZ_SCALE=0.2 makes a quick smoke run.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { queryRows, sql } from '@stint/infra/clickhouse';
import { createKafka } from '@stint/infra/kafka';
import { waitFor } from '@stint/infra/testing';
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  apiCases,
  collectorCases,
  DESKTOP_UA,
  type FuzzCase,
  type FuzzContext,
  Rng,
} from '../src/fuzz-cases.ts';
import { createFuzzClient, type FuzzResponse } from '../src/fuzz-http.ts';
import {
  countOutcomes,
  countsTable,
  type FuzzCounts,
  type FuzzOutcome,
  writeCounts,
} from '../src/fuzz-report.ts';
import { type Pipeline, REPO_ROOT, startPipeline } from '../src/pipeline.ts';

const SITE_A = 'alpha.test';
const SITE_B = 'beta.test';
/** Only site B's data holds these (path, campaign, referrer host, event name, prop value). */
const NEEDLES = [
  '/b-confidential-q7zx',
  'bcampaign-k3vv9',
  'b-referrer-w8pp.example',
  'b_goal_m2rr',
  'bprop-z9n4',
];
const A_PATH = '/a-public-page';
const SEED = Number(process.env.FUZZ_SEED ?? 20_260_614);
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const CONCURRENCY = 12;
const FILE_LEAK =
  /root:x:0:0|"workspaces"|\[core\]|<yandex>|CLICKHOUSE_URL=|stint_[0-9a-f]{12}_[A-Za-z0-9_-]{43}/;

let pipeline: Pipeline;
let outcomes: FuzzOutcome[] = [];
let counts: FuzzCounts;
let offsetsBefore = 0;
let seededEvents = 0;

async function highWatermarks(): Promise<number> {
  const kafka = createKafka({ clientId: 'stint-fuzz', brokers: pipeline.kafkaBrokers.split(',') });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(pipeline.topic);
    return offsets.reduce((sum, p) => sum + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

async function eventsRawCount(): Promise<number> {
  const rows = await queryRows<{ n: string }>(
    pipeline.client,
    sql`SELECT uniqExact(event_id) AS n FROM events_raw`,
  );
  return Number(rows[0]?.n ?? 0);
}

async function read(site: string, report: string, query: Record<string, string>, token: string) {
  const res = await fetch(
    `${pipeline.api.url}/api/v1/sites/${site}/${report}?${new URLSearchParams(query)}`,
    {
      headers: { authorization: `Bearer ${token}` },
    },
  );
  return { status: res.status, text: await res.text() };
}

/** Site A's and site B's fixture visits, through the collector and the sessionizer into ClickHouse. */
async function seed(now: number): Promise<number> {
  const visit = (
    site: string,
    path: string,
    campaign: string,
    referrer: string,
    goal: string,
    prop: string,
  ) =>
    [0, 1, 2].map((v) => ({
      site,
      events: [
        {
          site,
          name: 'pageview',
          url: `https://${site}${path}?utm_source=news&utm_campaign=${campaign}`,
          referrer: `https://${referrer}/`,
          visitor_id: `${site.slice(0, 1)}visitor0000${v}`,
          ts: now - 120_000 - v * 1000,
          user_agent: DESKTOP_UA,
        },
        {
          site,
          name: goal,
          url: `https://${site}${path}`,
          visitor_id: `${site.slice(0, 1)}visitor0000${v}`,
          ts: now - 60_000 - v * 1000,
          user_agent: DESKTOP_UA,
          props: { plan: prop },
        },
      ],
    }));
  const batches = [
    ...visit(SITE_A, A_PATH, 'acampaign', 'a-referrer.example', 'a_goal', 'aprop'),
    ...visit(
      SITE_B,
      '/b-confidential-q7zx',
      'bcampaign-k3vv9',
      'b-referrer-w8pp.example',
      'b_goal_m2rr',
      'bprop-z9n4',
    ),
  ];
  let total = 0;
  for (const batch of batches) {
    const res = await fetch(`${pipeline.collector.url}/api/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${pipeline.ingestToken[batch.site]}`,
      },
      body: JSON.stringify(batch),
    });
    expect(res.status, await res.text()).toBe(202);
    total += batch.events.length;
  }
  return total;
}

function judge(c: FuzzCase, res: FuzzResponse): string | null {
  if (res.status >= 500) return `answered ${res.status}: ${res.body.slice(0, 200)}`;
  const needle = NEEDLES.find((n) => res.body.includes(n));
  if (needle) return `revealed site B's ${JSON.stringify(needle)}`;
  if (FILE_LEAK.test(res.body)) return `revealed a file or secret: ${res.body.slice(0, 200)}`;
  if (res.status === 0) {
    return c.allowClose && ['closed', 'ECONNRESET', 'EPIPE'].includes(res.failure ?? '')
      ? null
      : `no answer (${res.failure})`;
  }
  if (c.expect === 'reject')
    return res.status >= 400 && res.status < 500 ? null : `answered ${res.status}, not 4xx`;
  if (c.expect === 'dropped') {
    if (c.req.path.startsWith('/e.gif')) return res.status === 200 ? null : `pixel answered ${res.status}`;
    if (res.status !== 202) return `answered ${res.status}, not 202`;
    const accepted = (JSON.parse(res.body) as { accepted?: number }).accepted;
    return accepted === 0 ? null : `a bot's event was accepted (${res.body})`;
  }
  if (res.status !== 200) return `answered ${res.status}, not 200: ${res.body.slice(0, 200)}`;
  const site = (JSON.parse(res.body) as { site?: string }).site;
  return site === SITE_A ? null : `answered for site ${site}`;
}

async function runAll(cases: FuzzCase[]): Promise<FuzzOutcome[]> {
  const clients = {
    collector: createFuzzClient(pipeline.collector.url, { sockets: CONCURRENCY }),
    api: createFuzzClient(pipeline.api.url, { sockets: CONCURRENCY }),
  };
  const out: FuzzOutcome[] = new Array(cases.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < cases.length; i = next++) {
      const c = cases[i] as FuzzCase;
      const res = await clients[c.target].send(c.req);
      out[i] = { c, res, problem: judge(c, res) };
    }
  };
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const hangups = [...clients.collector.retriedFailures, ...clients.api.retriedFailures];
    if (hangups.length)
      process.stdout.write(`fuzz: first attempts closed without an answer: ${hangups.join(', ')}\n`);
  } finally {
    clients.collector.close();
    clients.api.close();
  }
  return out;
}

beforeAll(async () => {
  pipeline = await startPipeline({
    label: 'fuzz',
    sites: [{ site_id: SITE_A }, { site_id: SITE_B }],
    partitions: 2,
    env: {
      // Every request of the run comes from 127.0.0.1: the per-IP limit is not what is tested here.
      collector: { COLLECTOR_RATE_LIMIT_PER_MINUTE: '1000000', LOG_LEVEL: 'warn' },
      api: { LOG_LEVEL: 'warn' },
      sessionizer: { LOG_LEVEL: 'warn' },
    },
  });
  const now = Date.now();
  seededEvents = await seed(now);
  await waitFor(async () => (await eventsRawCount()) === seededEvents, {
    timeoutMs: 20_000,
    intervalMs: 200,
    message: `the ${seededEvents} fixture events in events_raw`,
  });
  const range = {
    from: new Date(now - 2 * 86_400_000).toISOString().slice(0, 10),
    to: new Date(now + 86_400_000).toISOString().slice(0, 10),
  };
  // The leak check would be empty if B's strings were not readable at all: B's own token reads them.
  await waitFor(
    async () => {
      const b = await read(
        SITE_B,
        'breakdown',
        { ...range, by: 'page' },
        pipeline.readToken[SITE_B] as string,
      );
      return b.status === 200 && b.text.includes(NEEDLES[0] as string);
    },
    { timeoutMs: 20_000, intervalMs: 250, message: "site B's page in B's own breakdown" },
  );
  const a = await read(
    SITE_A,
    'breakdown',
    { ...range, by: 'campaign' },
    pipeline.readToken[SITE_A] as string,
  );
  expect(a.text).toContain('acampaign');
  offsetsBefore = await highWatermarks();
  expect(offsetsBefore).toBe(seededEvents);

  const ctx: FuzzContext = {
    siteA: SITE_A,
    siteB: SITE_B,
    registered: [SITE_A, SITE_B],
    ingestA: pipeline.ingestToken[SITE_A] as string,
    readA: pipeline.readToken[SITE_A] as string,
    ingestB: pipeline.ingestToken[SITE_B] as string,
    apiOrigin: pipeline.api.url,
    publicFile: (path) => {
      const file = path === '/' ? 'index.html' : path.slice(1);
      return ['dist', 'public'].some((dir) => existsSync(join(REPO_ROOT, 'dashboards', dir, file)));
    },
    now,
    needles: NEEDLES,
  };
  const rng = new Rng(SEED);
  const collector = collectorCases(rng, ctx, SCALE);
  const api = apiCases(rng, ctx, SCALE);
  const cases = [...collector.cases, ...api.cases];
  // Interleave collector and api requests, as an attacker's traffic would.
  for (let i = cases.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [cases[i], cases[j]] = [cases[j] as FuzzCase, cases[i] as FuzzCase];
  }
  const started = performance.now();
  outcomes = await runAll(cases);
  counts = countOutcomes(outcomes, {
    seed: SEED,
    durationMs: performance.now() - started,
    discarded: collector.discarded + api.discarded,
  });
  const file = join(REPO_ROOT, 'test-artifacts', 'fuzz-counts.json');
  writeCounts(file, counts);
  // Every unexpected answer in full, to replay by hand (FUZZ_SEED reproduces the whole run).
  const problems = outcomes
    .filter((o) => o.problem || o.res.retried)
    .map(({ c, res, problem }) => ({
      class: c.cls,
      problem,
      retried: res.retried === true,
      method: c.req.method,
      path: c.req.path,
      headers: c.req.headers,
      body: c.req.body?.toString('base64'),
      raw: c.req.raw?.toString('base64'),
      status: res.status,
      answer: res.body.slice(0, 2000),
    }));
  writeFileSync(
    join(REPO_ROOT, 'test-artifacts', 'fuzz-problems.json'),
    `${JSON.stringify(problems, null, 2)}\n`,
  );
  process.stdout.write(
    `\nfuzz: ${counts.requests} requests in ${counts.duration_s} s (seed ${SEED}), ${counts.unexpected} unexpected, ${counts.retried_after_hangup} retried after a hang-up → ${file}\n${countsTable(counts)}\n`,
  );
}, 110_000);

afterAll(async () => {
  await pipeline?.close();
});

function describeProblems(list: FuzzOutcome[]): string {
  return list
    .slice(0, 15)
    .map(({ c, res, problem }) => {
      const req = c.req.raw
        ? `RAW ${JSON.stringify(c.req.raw.toString('latin1').slice(0, 120))}`
        : `${c.req.method} ${JSON.stringify(c.req.path.slice(0, 160))}`;
      const body =
        c.req.body === undefined ? '' : ` body ${JSON.stringify(c.req.body.toString().slice(0, 160))}`;
      return `[${c.cls}] ${req}${body} → ${problem} (status ${res.status})`;
    })
    .join('\n');
}

test('thousands of malformed and hostile requests run against the real collector and api', () => {
  expect(counts.requests).toBeGreaterThanOrEqual(SCALE >= 1 ? 3000 : 1);
  expect(outcomes.some((o) => o.c.target === 'collector')).toBe(true);
  expect(outcomes.some((o) => o.c.target === 'api')).toBe(true);
});

test('no request is answered with a 5xx or left without an answer', () => {
  const bad = outcomes.filter((o) => o.res.status >= 500 || (o.res.status === 0 && o.problem));
  expect(bad.length, describeProblems(bad)).toBe(0);
});

test('every bad request is answered 4xx, bots 2xx with nothing accepted, valid hostile reads 200', () => {
  const bad = outcomes.filter((o) => o.problem);
  expect(bad.length, describeProblems(bad)).toBe(0);
});

test("no answer reveals site B's data, a server file or a token", () => {
  const leaks = outcomes.filter((o) => o.problem?.startsWith('revealed'));
  expect(leaks.length, describeProblems(leaks)).toBe(0);
});

test('nothing of the rejected requests reaches Kafka or ClickHouse', async () => {
  // A 2xx means durable in Kafka, and nothing reaches ClickHouse except through Kafka: equal offsets
  // prove nothing was produced; the table is checked as well.
  expect(await highWatermarks()).toBe(offsetsBefore);
  expect(await eventsRawCount()).toBe(seededEvents);
  const strays = await queryRows<{ n: string }>(
    pipeline.client,
    sql`SELECT uniqExact(event_id) AS n FROM events_raw WHERE visitor_id NOT IN ('avisitor00000', 'avisitor00001', 'avisitor00002', 'bvisitor00000', 'bvisitor00001', 'bvisitor00002')`,
  );
  expect(Number(strays[0]?.n)).toBe(0);
});

test('the collector, api and sessionizer are alive and healthy after the run', async () => {
  for (const s of [pipeline.collector, pipeline.api, ...pipeline.sessionizers]) {
    expect(s.running(), `${s.name} is running`).toBe(true);
  }
  for (const s of [pipeline.collector, pipeline.api]) {
    const res = await fetch(`${s.url}/healthz`);
    expect(res.status, `${s.name} /healthz`).toBe(200);
  }
  // And still working: site A's owner reads the fixture data.
  const now = Date.now();
  const a = await read(
    SITE_A,
    'breakdown',
    {
      from: new Date(now - 2 * 86_400_000).toISOString().slice(0, 10),
      to: new Date(now + 86_400_000).toISOString().slice(0, 10),
      by: 'page',
    },
    pipeline.readToken[SITE_A] as string,
  );
  expect(a.status).toBe(200);
  expect(a.text).toContain(A_PATH);
});

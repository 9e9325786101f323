/**
 * `stint import-logs` end to end: access logs of a week in 2015, written by the test in four formats
 * (nginx with a virtual host and trailing timings, JSON lines, Apache's vhost_combined, common), with
 * static assets, crawlers, POSTs, 404s, hosts of no site, garbage lines and lines logged up to three
 * minutes out of order, imported through the real CLI, collector, Kafka, sessionizer and ClickHouse.
 * The sessions in `stint.sessions` must equal a plain reference sessionization of the generated page
 * views (gap 30 min) for every session, and importing every file again must change nothing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryRows, sql } from '@stint/infra/clickhouse';
import { createKafka } from '@stint/infra/kafka';
import { ALL_SITES, createToken } from '@stint/infra/registry';
import { afterAll, beforeAll, expect, onTestFailed, test } from 'vitest';
import {
  commonLine,
  generateHits,
  type Hit,
  JSON_FIELDS,
  jsonLine,
  loggedOrder,
  NGINX_TIMED_FORMAT,
  nginxTimedLine,
  pageViewLedger,
  vhostCombinedLine,
} from '../src/access-logs.ts';
import { type ImportRun, runImportLogs } from '../src/import-cli.ts';
import { type Pipeline, startPipeline } from '../src/pipeline.ts';
import { referenceSessions } from '../src/reference.ts';

const GAP_S = 1800;
const A = 'logs-a.test';
const B = 'logs-b.test';
const C = 'logs-c.test';
const START = Date.UTC(2015, 2, 2);
const DAY = 86_400_000;

let pipeline: Pipeline;
let dir: string;

beforeAll(async () => {
  pipeline = await startPipeline({
    label: 'logimport',
    sites: [A, B, C].map((site_id) => ({ site_id, gap_s: GAP_S })),
    partitions: 3,
    api: false,
  });
  dir = mkdtempSync(join(tmpdir(), 'stint-log-import-'));
});

afterAll(async () => {
  await pipeline?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type Run = ImportRun;

const importLogs = (args: string[]) =>
  runImportLogs(args, { COLLECTOR_URL: pipeline.collector.url, STINT_INGEST_TOKEN: '' });

/** `  label   value` from the summary. */
function summaryLine(out: string, label: string): string {
  return new RegExp(`^\\s+${label}\\s+(.*)$`, 'm').exec(out)?.[1]?.trim() ?? `(no "${label}" in:\n${out})`;
}

/** `12 (static 7, bot 5)` → { static: 7, bot: 5 }. */
function reasons(text: string): Record<string, number> {
  const inner = /\((.*)\)/.exec(text)?.[1] ?? '';
  return Object.fromEntries(
    inner
      .split(', ')
      .filter((p) => p !== '')
      .map((p) => {
        const [k, v] = p.split(' ');
        return [k as string, Number((v as string).replace(/,/g, ''))];
      }),
  );
}

/** The imports topic's high watermarks, summed (what the collector has produced to it). */
async function importsProduced(): Promise<number> {
  const admin = createKafka({
    clientId: 'log-import-test',
    brokers: pipeline.kafkaBrokers.split(','),
  }).admin();
  await admin.connect();
  try {
    const high = await admin.fetchTopicOffsets(pipeline.importsTopic);
    return high.reduce((sum, p) => sum + Number(p.offset), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Sums a metric's samples (all label sets) in Prometheus text. */
function metric(text: string, name: string): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'gm')))
    sum += Number(m[1]);
  return sum;
}

/**
 * Waits until the sessionizer has read `events` events, is not behind any partition, and its rows
 * written to ClickHouse have stopped changing for two seconds (its batches are flushed).
 */
async function settled(events: number): Promise<void> {
  const deadline = Date.now() + 90_000;
  let rows = -1;
  let stableSince = Date.now();
  for (;;) {
    const texts = await Promise.all(
      pipeline.sessionizers.map(async (s) => (await fetch(`${s.url}/metrics`)).text()),
    );
    const sum = (name: string) => texts.reduce((n, text) => n + metric(text, name), 0);
    const read = sum('stint_sessionizer_events_total');
    const lag = sum('stint_sessionizer_lag_messages');
    const written = sum('stint_sessionizer_rows_written_total');
    if (written !== rows) {
      rows = written;
      stableSince = Date.now();
    }
    if (read >= events && lag === 0 && Date.now() - stableSince > 2000) return;
    if (Date.now() > deadline)
      throw new Error(`the sessionizer is behind: ${read} of ${events} events read, lag ${lag}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const SESSION = sql`SELECT site_id, toString(started_at) AS started_at, toString(ended_at) AS ended_at,
  pageviews, entry_path, exit_path FROM sessions WHERE site_id IN (${A}, ${B}, ${C})`;
type Row = {
  site_id: string;
  started_at: string;
  ended_at: string;
  pageviews: number;
  entry_path: string;
  exit_path: string;
};
const key = (r: Row) =>
  `${r.site_id} ${r.started_at} → ${r.ended_at} ${r.pageviews} ${r.entry_path} → ${r.exit_path}`;

/** The difference of two multisets of session keys (empty when equal). */
function difference(expected: string[], stored: string[]): string[] {
  const left = new Map<string, number>();
  for (const k of expected) left.set(k, (left.get(k) ?? 0) + 1);
  for (const k of stored) left.set(k, (left.get(k) ?? 0) - 1);
  return [...left]
    .filter(([, n]) => n !== 0)
    .map(([k, n]) => `${n > 0 ? 'missing' : 'unexpected'} ×${Math.abs(n)}: ${k}`);
}

test('logs of 2015 in four formats: every session equals the reference, a second import changes nothing', async () => {
  onTestFailed(() => {
    process.stderr.write(pipeline.logs(40));
  });
  // Sites A (two host names) and B share the nginx, JSON and Apache logs; C has a log in common format.
  const shared = generateHits({
    seed: 2015,
    sites: [
      { site: A, hosts: ['a.example', 'www.a.example'] },
      { site: B, hosts: ['b.example'] },
    ],
    visitors: 60,
    startMs: START,
    days: 7,
  });
  // common logs carry no agent and no host: crawlers and other hosts cannot be told apart there.
  const ofC = generateHits({
    seed: 2016,
    sites: [{ site: C, hosts: ['c.example'] }],
    visitors: 12,
    startMs: START,
    days: 7,
    withoutUserAgent: true,
  }).filter((h) => h.skip !== 'bot' && h.skip !== 'other_host');
  const hits = [...shared, ...ofC];

  // Logged up to 3 minutes out of order; the week split into three files at midnights (the visit
  // across the third midnight continues in the next file).
  const logged = loggedOrder(shared, 180, 7);
  const part = (from: number, to: number) =>
    logged.filter((h) => h.ts >= START + from * DAY && h.ts < START + to * DAY);
  const nginx = part(0, 3);
  const json = part(3, 5);
  const apache = part(5, 7);
  expect(nginx.length + json.length + apache.length).toBe(shared.length);
  // An empty line (not counted as unparsed), a line of another format, a day that does not exist.
  const garbage = [
    '',
    'this is not a log line',
    'a.example 203.0.113.9 - - [32/Mar/2015:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "Mozilla/5.0" 0.001 0.001',
  ];
  const write = (name: string, lines: string[]) => {
    const file = join(dir, name);
    writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  };
  const nginxFile = write('nginx.log', [...nginx.map((h) => nginxTimedLine(h, 60)), ...garbage]);
  const jsonFile = write('app.jsonl', [
    ...json.map((h) => jsonLine(h, 120)),
    '{"broken": ',
    ...garbage.slice(1, 2),
  ]);
  const apacheFile = write(
    'other_vhosts_access.log',
    apache.map((h) => vhostCombinedLine(h, -300)),
  );
  const commonFile = write(
    'c-access.log',
    loggedOrder(ofC, 120, 8).map((h) => commonLine(h, 0)),
  );
  const mapFile = write('vhosts.txt', [
    '# host site',
    `a.example ${A}`,
    `www.a.example ${A}`,
    `b.example ${B}`,
  ]);

  const all = (await createToken(pipeline.client, pipeline.database, { site: ALL_SITES, scope: 'ingest' }))
    .secret;
  const tokenOf = (site: string) => pipeline.ingestToken[site] as string;
  const vhostPairs = `a.example=${A},www.a.example=${A},b.example=${B}`;
  const imports: string[][] = [
    [nginxFile, '--log-format', NGINX_TIMED_FORMAT, '--vhost-map', vhostPairs, '--token', all],
    [jsonFile, '--format', 'json', '--json-fields', JSON_FIELDS, '--vhost-map', mapFile, '--token', all],
    [apacheFile, '--format', 'vhost_combined', '--host', 'b.example', '--site', B, '--token', tokenOf(B)],
    [
      apacheFile,
      '--format',
      'vhost_combined',
      '--host',
      'a.example,www.a.example',
      '--site',
      A,
      '--token',
      tokenOf(A),
    ],
    [commonFile, '--format', 'common', '--site', C, '--token', tokenOf(C)],
  ];

  // A dry run parses and classifies, and sends nothing.
  const dry = await importLogs([...(imports[0] as string[]), '--dry-run']);
  expect(dry.code, dry.stderr).toBe(0);
  expect(dry.stdout).toMatch(/^dry run \(nothing sent\)/);
  const nginxViews = nginx.filter((h) => h.site !== null);
  expect(summaryLine(dry.stdout, 'page views found')).toMatch(new RegExp(`^${nginxViews.length} `));
  expect(await importsProduced()).toBe(0);

  // The imports, as a site owner would run them.
  const runs = [];
  for (const args of imports) runs.push(await importLogs(args));
  for (const r of runs) expect(r.code, r.stderr).toBe(0);
  const [nginxRun, jsonRun, bRun, aRun, cRun] = runs as [Run, Run, Run, Run, Run];
  const views = (hs: readonly Hit[], site?: string) =>
    hs.filter((h) => h.site !== null && (site === undefined || h.site === site)).length;
  expect(summaryLine(nginxRun.stdout, 'lines')).toBe(String(nginx.length + garbage.length));
  expect(summaryLine(nginxRun.stdout, 'page views sent')).toMatch(new RegExp(`^${views(nginx)} `));
  expect(summaryLine(nginxRun.stdout, 'page views sent')).toContain(`${A} ${views(nginx, A)}`);
  const skippedIn = (hs: readonly Hit[]) => {
    const by: Record<string, number> = {};
    for (const h of hs) if (h.skip) by[h.skip] = (by[h.skip] ?? 0) + 1;
    return by;
  };
  expect(reasons(summaryLine(nginxRun.stdout, 'skipped'))).toEqual(skippedIn(nginx));
  expect(reasons(summaryLine(jsonRun.stdout, 'skipped'))).toEqual(skippedIn(json));
  expect(summaryLine(nginxRun.stdout, 'unparsed')).toBe('2');
  expect(nginxRun.stdout).toMatch(/^ +no_match 1 \(first: line \d+: this is not a log line\)$/m);
  expect(nginxRun.stdout).toMatch(/^ +bad_time 1 \(first: line \d+: .*32\/Mar\/2015/m);
  expect(summaryLine(jsonRun.stdout, 'page views sent')).toMatch(new RegExp(`^${views(json)} `));
  expect(summaryLine(jsonRun.stdout, 'unparsed')).toBe('2');
  expect(summaryLine(bRun.stdout, 'page views sent')).toMatch(new RegExp(`^${views(apache, B)} `));
  expect(summaryLine(aRun.stdout, 'page views sent')).toMatch(new RegExp(`^${views(apache, A)} `));
  expect(summaryLine(cRun.stdout, 'page views sent')).toMatch(new RegExp(`^${views(ofC)} `));
  for (const r of runs) expect(r.stdout).not.toMatch(/rejected\s+[1-9]/);

  // Nothing to send: the run says why and exits 1.
  const none = await importLogs([
    apacheFile,
    '--format',
    'vhost_combined',
    '--host',
    'nobody.example',
    '--site',
    A,
    '--token',
    tokenOf(A),
  ]);
  expect(none.code).toBe(1);
  expect(none.stderr).toContain('nothing was sent');
  // Lines are classified before they are routed: the ones of no wanted host are those that were pages.
  expect(reasons(summaryLine(none.stdout, 'skipped')).other_host).toBe(
    apache.filter((h) => h.site !== null || h.skip === 'other_host').length,
  );

  // The reference: each visitor's (site, address, agent) page views cut at gaps over 30 minutes.
  const ledger = pageViewLedger(hits);
  const reference = referenceSessions(ledger, GAP_S).map((s) => {
    const ids = s.event_ids.map(Number).sort((x, y) => (hits[x] as Hit).ts - (hits[y] as Hit).ts);
    const first = hits[ids[0] as number] as Hit;
    const last = hits[ids[ids.length - 1] as number] as Hit;
    return key({
      site_id: first.site as string,
      started_at: s.started_at,
      ended_at: s.ended_at,
      pageviews: s.pageviews,
      entry_path: first.path,
      exit_path: last.path,
    });
  });
  const midnight = reference.filter(
    (k) => k.startsWith(`${A} 2015-03-04 23:5`) && k.includes('→ 2015-03-05 00:'),
  );
  expect(midnight.length, 'the visit across midnight is one session in the reference').toBe(1);

  expect(await importsProduced()).toBe(ledger.length);
  await settled(ledger.length);
  let diff: string[] = [];
  const deadline = Date.now() + 60_000;
  do {
    diff = difference(reference, (await queryRows<Row>(pipeline.client, SESSION)).map(key));
    if (diff.length === 0) break;
    await new Promise((r) => setTimeout(r, 1000));
  } while (Date.now() < deadline);
  expect(diff.slice(0, 20)).toEqual([]);
  const stored = async () =>
    (
      await queryRows<{ events: string; distinct_ids: string; sessions: string; raw: string }>(
        pipeline.client,
        sql`SELECT (SELECT count() FROM events WHERE site_id IN (${A}, ${B}, ${C})) AS events,
                   (SELECT uniqExact(event_id) FROM events WHERE site_id IN (${A}, ${B}, ${C})) AS distinct_ids,
                   (SELECT count() FROM sessions WHERE site_id IN (${A}, ${B}, ${C})) AS sessions,
                   (SELECT count() FROM events_raw WHERE site_id IN (${A}, ${B}, ${C})) AS raw`,
      )
    )[0];
  const before = await stored();
  expect(Number(before?.events)).toBe(ledger.length);
  expect(Number(before?.distinct_ids)).toBe(ledger.length);
  expect(Number(before?.sessions)).toBe(reference.length);

  // Importing every file again: the ids (from the lines) are stored, so the collector sends nothing
  // again and nothing changes (the sessionizer has long let go of these visits: copies of their events
  // would start partial sessions of their own).
  for (const [i, args] of imports.entries()) {
    const again = await importLogs(args);
    expect(again.code, again.stderr).toBe(0);
    expect(summaryLine(again.stdout, 'page views sent')).toBe('0');
    expect(summaryLine(again.stdout, 'already imported')).toMatch(
      new RegExp(`^${summaryLine((runs[i] as Run).stdout, 'page views sent').split(' ')[0]} `),
    );
    expect(again.stderr).toContain('nothing new');
  }
  expect(await importsProduced()).toBe(ledger.length);
  const after = await stored();
  expect(after).toEqual(before);
  expect(difference(reference, (await queryRows<Row>(pipeline.client, SESSION)).map(key))).toEqual([]);
  process.stdout.write(
    `[log-import] ${hits.length} hits (${ledger.length} page views) in 4 formats → ${reference.length} sessions equal the reference; second import: nothing sent, no change\n`,
  );
}, 300_000);

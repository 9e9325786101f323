/**
 * bench/import: `npx tsx bench/src/import-bench.ts [--lines 1000000] [--only parse,e2e] [--concurrency N]`
 *   A combined-format access log of --lines lines (a month of 2016 on one site: page views of real
 *   browsers, with their static assets, crawlers, POSTs, 404s and a host of no site, logged up to a
 *   minute out of order) written by the benchmark, then imported with the real CLI
 *   (`stint import-logs`, a child process as a user runs it):
 *   (a) parse: `--dry-run`, lines/s of reading, parsing and classifying;
 *   (b) end to end: through the real collector (POST /api/import), Kafka, the sessionizer and
 *       ClickHouse (their own processes on a fresh database and topics): lines/s and page views/s until
 *       the CLI is done (everything acknowledged by Kafka), and page views/s until every one is a row
 *       of `events_raw` and its sessions are written;
 *   (c) a second run of the same file: how fast a restart gets through lines already imported.
 * The machine is shared: every process (CLI, collector, sessionizer, Kafka, ClickHouse) runs on the same
 * cores, and each figure is printed with the load average at the time.
 */
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { combinedLine, generateHits, loggedOrder } from '@stint/e2e/access-logs';
import { runImportLogs } from '@stint/e2e/import-cli';
import { startPipeline } from '@stint/e2e/pipeline';
import { queryRows, sql } from '@stint/infra/clickhouse';
import { type Figure, round, writeResult } from './results.ts';

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '1000000' },
    only: { type: 'string', default: 'parse,e2e' },
    /** Passed to the CLI (requests in flight); default: the CLI's own. */
    concurrency: { type: 'string' },
  },
});
const LINES = Number(values.lines);
const cliFlags = values.concurrency ? ['--concurrency', values.concurrency] : [];
const parts = new Set(values.only.split(','));
const SITE = 'import-bench.test';
const say = (m: string) => process.stderr.write(`bench/import: ${m}\n`);
const load = () => round(loadavg()[0] ?? 0, 2);
const figures: Figure[] = [];
const loads: Record<string, number> = {};

/** The leading number of a summary line, e.g. `page views sent    612,340 (…)` → 612340. */
function summaryNumber(out: string, label: string): number {
  const m = new RegExp(`^\\s+${label}\\s+([0-9,]+)`, 'm').exec(out);
  if (!m?.[1]) throw new Error(`no "${label}" in the import's summary:\n${out}`);
  return Number(m[1].replace(/,/g, ''));
}

/** Writes the log: about 15 lines per visitor and month, so the visitor count follows --lines. */
async function writeLog(file: string): Promise<{ lines: number; pageViews: number }> {
  const hits = loggedOrder(
    generateHits({
      seed: 2016,
      sites: [{ site: SITE, hosts: ['bench.example'] }],
      visitors: Math.max(10, Math.round(LINES / 15)),
      startMs: Date.UTC(2016, 4, 1),
      days: 30,
    }),
    60,
    2016,
  ).slice(0, LINES);
  const out = createWriteStream(file);
  let chunk: string[] = [];
  for (const h of hits) {
    chunk.push(combinedLine(h, 60));
    if (chunk.length === 10_000) {
      if (!out.write(`${chunk.join('\n')}\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
      chunk = [];
    }
  }
  if (chunk.length > 0) out.write(`${chunk.join('\n')}\n`);
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
  // A combined log has no host field: the requests for the host of no site are page views here too.
  return {
    lines: hits.length,
    pageViews: hits.filter((h) => h.site !== null || h.skip === 'other_host').length,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'stint-import-bench-'));
try {
  const file = join(dir, 'access.log');
  say(`writing ${LINES.toLocaleString('en-US')} combined-format lines…`);
  const log = await writeLog(file);
  const mb = statSync(file).size / 2 ** 20;
  say(
    `${log.lines.toLocaleString('en-US')} lines (${round(mb)} MiB), ${log.pageViews.toLocaleString('en-US')} page views`,
  );
  const extra: Record<string, unknown> = {
    lines: log.lines,
    page_views: log.pageViews,
    mib: round(mb),
    loads,
  };

  if (parts.has('parse')) {
    say('dry run (parse and classify)…');
    loads.parse = load();
    const dry = await runImportLogs([file, '--site', SITE, '--dry-run']);
    if (dry.code !== 0) throw new Error(`the dry run failed (${dry.code}):\n${dry.stdout}${dry.stderr}`);
    const found = summaryNumber(dry.stdout, 'page views found');
    if (found !== log.pageViews)
      throw new Error(`the dry run found ${found} page views, the log has ${log.pageViews}`);
    figures.push({
      name: 'parse + classify (--dry-run), lines/s',
      value: Math.round(log.lines / dry.seconds),
      unit: 'lines/s',
    });
  }

  if (parts.has('e2e')) {
    say('starting the collector and the sessionizer on a fresh database…');
    const pipeline = await startPipeline({
      label: 'importbench',
      sites: [{ site_id: SITE, gap_s: 1800 }],
      partitions: 3,
      api: false,
    });
    try {
      const env = { COLLECTOR_URL: pipeline.collector.url, STINT_INGEST_TOKEN: '' };
      const token = pipeline.ingestToken[SITE] as string;
      say('importing through collector → Kafka → sessionizer → ClickHouse…');
      loads.e2e = load();
      const t0 = performance.now();
      const run = await runImportLogs([file, '--site', SITE, '--token', token, ...cliFlags], env);
      if (run.code !== 0) throw new Error(`the import failed (${run.code}):\n${run.stdout}${run.stderr}`);
      const sent = summaryNumber(run.stdout, 'page views sent');
      const counts = async () =>
        (
          await queryRows<{ events: string; sessions: string }>(
            pipeline.client,
            sql`SELECT (SELECT count() FROM events_raw WHERE site_id = ${SITE}) AS events,
                       (SELECT count() FROM sessions_raw WHERE site_id = ${SITE}) AS sessions`,
          )
        )[0];
      let c = await counts();
      while (Number(c?.events) < sent) {
        if (performance.now() - t0 > 1_800_000)
          throw new Error(`only ${c?.events} of ${sent} events stored after 30 min`);
        await new Promise((r) => setTimeout(r, 200));
        c = await counts();
      }
      const stored = (performance.now() - t0) / 1000;
      figures.push(
        {
          name: 'import CLI → collector → Kafka, lines/s',
          value: Math.round(log.lines / run.seconds),
          unit: 'lines/s',
        },
        {
          name: 'import CLI → collector → Kafka, page views/s',
          value: Math.round(sent / run.seconds),
          unit: 'events/s',
        },
        {
          name: 'end to end until all in ClickHouse, page views/s',
          value: Math.round(sent / stored),
          unit: 'events/s',
        },
        {
          name: `end to end, ${log.lines.toLocaleString('en-US')} lines, seconds`,
          value: round(stored),
          unit: 's',
        },
      );
      extra.sent = sent;
      extra.session_rows = Number(c?.sessions);

      say('second run of the same file (everything already imported)…');
      loads.again = load();
      const again = await runImportLogs([file, '--site', SITE, '--token', token, ...cliFlags], env);
      if (again.code !== 0)
        throw new Error(`the second run failed (${again.code}):\n${again.stdout}${again.stderr}`);
      const skipped = summaryNumber(again.stdout, 'already imported');
      if (skipped !== sent) throw new Error(`the second run recognised ${skipped} of ${sent} page views`);
      figures.push({
        name: 'second run (all already imported), lines/s',
        value: Math.round(log.lines / again.seconds),
        unit: 'lines/s',
      });
    } finally {
      await pipeline.close();
    }
  }
  writeResult('import', figures, extra);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** The collector's commands for the `stint` CLI (loaded by infra/src/cli/main.ts). */
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { importLogs } from './import/import-logs.ts';
import { formatNames, jsonFieldNames, lineFormat } from './import/log-format.ts';
import { formatProgress, formatSummary } from './import/summary.ts';

interface ImportFlags {
  site?: string;
  format: string;
  logFormat?: string;
  logFormatRegex?: string;
  jsonFields?: string;
  host: string[];
  vhostMap?: string;
  token?: string;
  collector?: string;
  baseUrl?: string;
  dryRun?: boolean;
  concurrency: string;
}

const collect = (value: string, previous: string[]) => [
  ...previous,
  ...value
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean),
];

/** `a=b,c=d`, or a file of `a=b` / `a b` lines (`#` comments) → { a: 'b', c: 'd' }. */
export function parsePairs(text: string, what: string): Record<string, string> {
  const source = existsSync(text) ? readFileSync(text, 'utf8') : text;
  const out: Record<string, string> = {};
  for (const raw of source.split(/[\n,]/)) {
    const item = raw.replace(/#.*/, '').trim();
    if (item === '') continue;
    const m = /^(\S+?)\s*(?:=|\s)\s*(\S+)$/.exec(item);
    if (!m) throw new Error(`${what}: "${item}" is not name=value`);
    out[m[1] as string] = m[2] as string;
  }
  return out;
}

export function register(program: Command): void {
  program
    .command('import-logs <file>')
    .description(
      'import page views of any age from an access log (plain or .gz) through POST /api/import; prints a summary, exits 1 when nothing was sent',
    )
    .option(
      '--site <site>',
      'the registered site the log belongs to (with --vhost-map: for hosts it does not name)',
    )
    .option('--format <name>', `log format: ${formatNames().join(', ')}`, 'combined')
    .option(
      '--log-format <string>',
      'custom format in Apache LogFormat (%h %t "%r" …) or nginx log_format ($remote_addr …) syntax',
    )
    .option(
      '--log-format-regex <regex>',
      'custom format as a regular expression with named groups: ip, time, request or method+path, status, referrer, user_agent, host',
    )
    .option(
      '--json-fields <map>',
      `JSON lines: where the fields are (${jsonFieldNames().join(', ')}), e.g. ip=client.addr,time=ts`,
    )
    .option(
      '--host <hosts>',
      'only import lines of these virtual hosts (comma-separated or repeated; *.example.com for subdomains)',
      collect,
      [],
    )
    .option(
      '--vhost-map <map>',
      'send each virtual host to its site: host=site,… or a file of "host site" lines',
    )
    .option(
      '--token <token>',
      'ingest token of the site, or of every site with --vhost-map (default: $STINT_INGEST_TOKEN)',
    )
    .option(
      '--collector <url>',
      'collector base URL (default: $COLLECTOR_URL, $STINT_COLLECTOR_URL or http://127.0.0.1:8301)',
    )
    .option('--base-url <url>', 'scheme and host to put before logged paths (default: https://<site>)')
    .option('--dry-run', 'parse and classify the log, print the summary, send nothing')
    .option('--concurrency <n>', 'requests in flight', '2')
    .action(async (file: string, o: ImportFlags) => {
      if (!existsSync(file)) throw new Error(`${file}: no such file`);
      const format = lineFormat({
        format: o.format,
        ...(o.logFormat !== undefined ? { formatString: o.logFormat } : {}),
        ...(o.logFormatRegex !== undefined ? { formatRegex: o.logFormatRegex } : {}),
        ...(o.jsonFields !== undefined ? { jsonFields: parsePairs(o.jsonFields, '--json-fields') } : {}),
      });
      const token = o.token ?? process.env.STINT_INGEST_TOKEN ?? '';
      if (!o.dryRun && token === '') {
        throw new Error(
          'an ingest token is required: --token or STINT_INGEST_TOKEN (create one with `stint tokens create`)',
        );
      }
      const concurrency = Number(o.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 16) {
        throw new Error(`--concurrency: a whole number from 1 to 16, not ${o.concurrency}`);
      }
      const tty = process.stderr.isTTY === true;
      const stats = await importLogs({
        file,
        format,
        routing: {
          ...(o.site !== undefined ? { site: o.site } : {}),
          hosts: o.host,
          ...(o.vhostMap !== undefined ? { vhostMap: parsePairs(o.vhostMap, '--vhost-map') } : {}),
        },
        token,
        dryRun: o.dryRun === true,
        concurrency,
        collector:
          o.collector ??
          process.env.COLLECTOR_URL ??
          process.env.STINT_COLLECTOR_URL ??
          'http://127.0.0.1:8301',
        ...(o.baseUrl ? { baseUrl: o.baseUrl } : {}),
        progress: (s, done) => {
          // On a terminal the line redraws in place; elsewhere (CI logs) it prints every second.
          const text = formatProgress(s, done);
          process.stderr.write(tty ? `\r\x1b[2K${text}${done ? '\n' : ''}` : `${text}\n`);
        },
      });
      process.stdout.write(`${formatSummary(stats)}\n`);
      if (!o.dryRun && stats.sent === 0 && stats.alreadyStored > 0) {
        process.stderr.write(
          `stint: nothing new: all ${stats.alreadyStored} page views were imported before (a second run sends nothing)\n`,
        );
      } else if ((o.dryRun ? stats.pageViews : stats.sent) === 0) {
        process.stderr.write(
          `stint: ${o.dryRun ? 'no page views found' : 'nothing was sent'}: check --format and --site/--host (the summary above says why lines were skipped)\n`,
        );
        process.exitCode = 1;
      }
    });
}

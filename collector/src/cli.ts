/** The collector's commands for the `stint` CLI (loaded by infra/src/cli/main.ts). */
import type { Command } from 'commander';
import { formatProgress, importLogs } from './import/import-logs.ts';

export function register(program: Command): void {
  program
    .command('import-logs <file>')
    .description(
      'import page views from an Apache/nginx combined access log (plain or .gz) through POST /api/events',
    )
    .requiredOption('--site <site>', 'the registered site the log belongs to')
    .option('--format <format>', 'log format (only "combined" for now)', 'combined')
    .option('--token <token>', 'ingest token of the site (default: $STINT_INGEST_TOKEN)')
    .option(
      '--collector <url>',
      'collector base URL (default: $COLLECTOR_URL, $STINT_COLLECTOR_URL or http://127.0.0.1:8301)',
    )
    .option('--base-url <url>', 'scheme and host to put before logged paths (default: https://<site>)')
    .action(
      async (
        file: string,
        o: { site: string; format: string; token?: string; collector?: string; baseUrl?: string },
      ) => {
        if (o.format !== 'combined')
          throw new Error(`unsupported --format ${o.format} (supported: combined)`);
        const token = o.token ?? process.env.STINT_INGEST_TOKEN;
        if (!token)
          throw new Error(
            'an ingest token is required: --token or STINT_INGEST_TOKEN (create one with `stint tokens create`)',
          );
        const tty = process.stderr.isTTY === true;
        const stats = await importLogs({
          file,
          site: o.site,
          token,
          collector:
            o.collector ??
            process.env.COLLECTOR_URL ??
            process.env.STINT_COLLECTOR_URL ??
            'http://127.0.0.1:8301',
          ...(o.baseUrl ? { baseUrl: o.baseUrl } : {}),
          progress: (s, done) => {
            const text = formatProgress(s, done);
            process.stderr.write(tty ? `\r\x1b[2K${text}${done ? '\n' : ''}` : `${text}\n`);
          },
        });
        if (stats.firstError) process.stderr.write(`first rejected event: ${stats.firstError}\n`);
      },
    );
}

/** The sessionizer's commands for the `stint` CLI (loaded by infra/src/cli/main.ts). */
import { clickhouseDatabase, createClickHouse } from '@stint/infra/clickhouse';
import type { Command } from 'commander';
import { replaySessions } from './replay.ts';

/** A date (`2025-06-01`, UTC midnight) or a date-time with an offset (`2025-06-01T12:00:00Z`). */
export function parseWhen(text: string, option: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(text) ? Date.parse(`${text}T00:00:00Z`) : Date.parse(text);
  if (Number.isNaN(ms))
    throw new Error(`${option}: not a date (YYYY-MM-DD or ISO 8601 with offset): ${text}`);
  return ms;
}

export function register(program: Command): void {
  program
    .command('replay')
    .description(
      "rebuild a site's sessions for a time range from the stored events with its current settings (after a changed gap)",
    )
    .requiredOption('--site <site>', 'the registered site')
    .requiredOption('--from <date>', 'start of the range (YYYY-MM-DD = UTC midnight, or ISO 8601)')
    .requiredOption('--to <date>', 'end of the range, exclusive')
    .option('--dry-run', 'compute and report, write nothing', false)
    .option('--force', "rebuild even within the live sessionizer's horizon (only when none runs)", false)
    .action(async (o: { site: string; from: string; to: string; dryRun: boolean; force: boolean }) => {
      const database = clickhouseDatabase();
      const client = createClickHouse({ database });
      try {
        const r = await replaySessions({
          client,
          database,
          site: o.site,
          from: parseWhen(o.from, '--from'),
          to: parseWhen(o.to, '--to'),
          dryRun: o.dryRun,
          force: o.force,
        });
        process.stdout.write(
          `${o.dryRun ? 'would rebuild' : 'rebuilt'} ${o.site} ${new Date(r.from).toISOString()} – ${new Date(r.to).toISOString()} (range widened to whole sessions): ` +
            `${r.visitors} visitors, ${r.events} events, sessions ${r.sessionsBefore} → ${r.sessionsAfter}, ` +
            `${r.tombstoned} ids tombstoned, ${r.retagged} events re-tagged, version ${r.version}\n`,
        );
      } finally {
        await client.close();
      }
    });
}

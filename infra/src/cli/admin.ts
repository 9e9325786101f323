import type { Command } from 'commander';
import { clickhouseDatabase, createClickHouse } from '../clickhouse/client.ts';
import { addSite, listSites, parseDuration } from '../registry/sites.ts';
import {
  ALL_SITES,
  createToken,
  listTokens,
  revokeToken,
  TOKEN_SCOPES,
  type TokenScope,
} from '../registry/tokens.ts';

async function withClient<T>(
  fn: (client: ReturnType<typeof createClickHouse>, database: string) => Promise<T>,
): Promise<T> {
  const database = clickhouseDatabase();
  const client = createClickHouse({ database });
  try {
    return await fn(client, database);
  } finally {
    await client.close();
  }
}

function parseDays(text: string): number {
  if (!/^\d+$/.test(text.trim()))
    throw new Error(`--import-max-age must be a whole number of days, not ${text}`);
  return Number(text);
}

export function registerAdminCommands(program: Command): void {
  const sites = program.command('sites').description('the site registry');
  sites
    .command('add <site>')
    .description('register a site (or change its settings)')
    .option('--timezone <tz>', 'IANA time zone for day boundaries', 'UTC')
    .option('--gap <duration>', 'inactivity gap that ends a session', '30m')
    .option('--max-length <duration>', 'maximum session length', '24h')
    .option('--split-midnight', 'start a new session at local midnight', false)
    .option('--split-campaign', 'start a new session when the campaign or external referrer changes', false)
    .option(
      '--import-max-age <days>',
      'refuse imported events (stint import-logs, POST /api/import) older than this many days; 0 = no lower bound',
      '0',
    )
    .action(
      async (
        site: string,
        o: {
          timezone: string;
          gap: string;
          maxLength: string;
          splitMidnight: boolean;
          splitCampaign: boolean;
          importMaxAge: string;
        },
      ) => {
        const saved = await withClient((c, db) =>
          addSite(c, db, {
            site_id: site,
            timezone: o.timezone,
            gap_s: parseDuration(o.gap),
            max_length_s: parseDuration(o.maxLength),
            split_midnight: o.splitMidnight,
            split_campaign: o.splitCampaign,
            import_max_age_days: parseDays(o.importMaxAge),
          }),
        );
        process.stdout.write(`${JSON.stringify(saved)}\n`);
      },
    );
  sites
    .command('list')
    .description('list registered sites')
    .action(async () => {
      for (const s of await withClient(listSites)) process.stdout.write(`${JSON.stringify(s)}\n`);
    });

  const tokens = program
    .command('tokens')
    .description('API tokens (stored hashed; the secret is shown once)');
  tokens
    .command('create')
    .description('create a token')
    .requiredOption('--site <site>', `site, or ${ALL_SITES} for every site`)
    .requiredOption('--scope <scope>', `one of ${TOKEN_SCOPES.join(', ')}`)
    .option('--label <text>', 'a note to recognise the token by', '')
    .action(async (o: { site: string; scope: string; label: string }) => {
      if (!TOKEN_SCOPES.includes(o.scope as TokenScope))
        throw new Error(`--scope must be one of ${TOKEN_SCOPES.join(', ')}`);
      const t = await withClient((c, db) =>
        createToken(c, db, { site: o.site, scope: o.scope as TokenScope, label: o.label }),
      );
      process.stderr.write(
        `token ${t.id} created for ${o.site} (${o.scope}); the secret below is shown only once:\n`,
      );
      process.stdout.write(`${t.secret}\n`);
    });
  tokens
    .command('revoke <id>')
    .description('revoke a token by id')
    .action(async (id: string) => {
      const ok = await withClient((c, db) => revokeToken(c, db, id));
      if (!ok) throw new Error(`no token with id ${id}`);
      process.stderr.write(`token ${id} revoked\n`);
    });
  tokens
    .command('list')
    .description('list tokens (never their secrets)')
    .action(async () => {
      for (const t of await withClient(listTokens)) process.stdout.write(`${JSON.stringify(t)}\n`);
    });
}

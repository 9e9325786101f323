import { z } from 'zod';
import { type ClickHouseClient, insertRows, queryRows } from '../clickhouse/client.ts';
import { ident, sql, toDateTime } from '../clickhouse/quote.ts';

export const SITE_ID = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9][a-z0-9.-]*$/, 'a site is a lower-case host name like example.com');

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const SiteSettingsSchema = z.object({
  site_id: SITE_ID,
  timezone: z.string().refine(isTimeZone, 'not an IANA time zone (e.g. Europe/Berlin)').default('UTC'),
  gap_s: z
    .number()
    .int()
    .min(60)
    .max(24 * 3600)
    .default(1800),
  max_length_s: z
    .number()
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .default(24 * 3600),
  split_midnight: z.boolean().default(false),
  split_campaign: z.boolean().default(false),
  /** Imports may not reach further back than this many days; 0 = no lower bound (the default). */
  import_max_age_days: z.number().int().min(0).max(100_000).default(0),
});
export type SiteSettings = z.infer<typeof SiteSettingsSchema>;

interface SiteRow {
  site_id: string;
  timezone: string;
  gap_s: number;
  max_length_s: number;
  split_midnight: number;
  split_campaign: number;
  import_max_age_days: number;
}

function fromRow(r: SiteRow): SiteSettings {
  return {
    site_id: r.site_id,
    timezone: r.timezone,
    gap_s: Number(r.gap_s),
    max_length_s: Number(r.max_length_s),
    split_midnight: Number(r.split_midnight) === 1,
    split_campaign: Number(r.split_campaign) === 1,
    import_max_age_days: Number(r.import_max_age_days),
  };
}

/** `30m`, `1h`, `90s`, `45` (seconds) → seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)\s*(s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`not a duration: ${JSON.stringify(text)} (use e.g. 30m, 1h, 90s)`);
  const n = Number(m[1]);
  return m[2] === 'h' ? n * 3600 : m[2] === 'm' ? n * 60 : n;
}

/** Registers a site or replaces its settings. */
export async function addSite(
  client: ClickHouseClient,
  database: string,
  input: z.input<typeof SiteSettingsSchema>,
): Promise<SiteSettings> {
  const site = SiteSettingsSchema.parse(input);
  await insertRows(client, `${database}.sites`, [
    {
      ...site,
      split_midnight: site.split_midnight ? 1 : 0,
      split_campaign: site.split_campaign ? 1 : 0,
      created_at: toDateTime(Date.now()),
      deleted: 0,
      version: Date.now() * 1000 + Math.floor(Math.random() * 1000),
    },
  ]);
  return site;
}

export async function listSites(client: ClickHouseClient, database: string): Promise<SiteSettings[]> {
  const rows = await queryRows<SiteRow>(
    client,
    sql`SELECT site_id, timezone, gap_s, max_length_s, split_midnight, split_campaign,
          import_max_age_days
        FROM ${ident(database)}.sites FINAL WHERE deleted = 0 ORDER BY site_id`,
  );
  return rows.map(fromRow);
}

export async function getSite(
  client: ClickHouseClient,
  database: string,
  siteId: string,
): Promise<SiteSettings | null> {
  const rows = await queryRows<SiteRow>(
    client,
    sql`SELECT site_id, timezone, gap_s, max_length_s, split_midnight, split_campaign,
          import_max_age_days
        FROM ${ident(database)}.sites FINAL WHERE site_id = ${siteId} AND deleted = 0`,
  );
  const row = rows[0];
  return row ? fromRow(row) : null;
}

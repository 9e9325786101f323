/**
 * Per-site session settings from the `sites` registry, cached: the state machine asks synchronously,
 * so sites are loaded before a batch is processed and the whole list is refreshed periodically.
 */
import type { ClickHouseClient } from '@stint/infra/clickhouse';
import { getSite, listSites, type SiteSettings as RegistrySite } from '@stint/infra/registry';
import { DEFAULT_SITE_SETTINGS, type SiteSettings } from './state/index.ts';

export function fromRegistry(s: RegistrySite): SiteSettings {
  return {
    gapMs: s.gap_s * 1000,
    maxLengthMs: s.max_length_s * 1000,
    splitMidnight: s.split_midnight,
    splitCampaign: s.split_campaign,
    timeZone: s.timezone,
  };
}

export class SiteSettingsCache {
  private readonly cache = new Map<string, SiteSettings>();

  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {}

  /** Settings of a loaded site; defaults for a site unknown to the registry. */
  get(siteId: string): SiteSettings {
    return this.cache.get(siteId) ?? DEFAULT_SITE_SETTINGS;
  }

  async ensure(siteIds: Iterable<string>): Promise<void> {
    for (const id of siteIds) {
      if (this.cache.has(id)) continue;
      const s = await getSite(this.client, this.database, id);
      this.cache.set(id, s ? fromRegistry(s) : DEFAULT_SITE_SETTINGS);
    }
  }

  async refresh(): Promise<void> {
    for (const s of await listSites(this.client, this.database)) this.cache.set(s.site_id, fromRegistry(s));
  }
}

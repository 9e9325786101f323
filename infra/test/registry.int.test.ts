import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addSite,
  createToken,
  getSite,
  listSites,
  listTokens,
  revokeToken,
  verifyToken,
} from '../src/registry/index.ts';
import { createTestDatabase, type TestDatabase } from '../src/testing/index.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('registry');
});
afterAll(() => db.drop());

describe('site registry', () => {
  it('registers a site with defaults and updates its settings in place', async () => {
    await addSite(db.client, db.database, { site_id: 'shop.example' });
    expect(await getSite(db.client, db.database, 'shop.example')).toEqual({
      site_id: 'shop.example',
      timezone: 'UTC',
      gap_s: 1800,
      max_length_s: 86400,
      split_midnight: false,
      split_campaign: false,
      import_max_age_days: 0,
    });
    await addSite(db.client, db.database, {
      site_id: 'shop.example',
      timezone: 'Europe/Berlin',
      gap_s: 600,
      import_max_age_days: 365,
    });
    expect(await getSite(db.client, db.database, 'shop.example')).toMatchObject({
      timezone: 'Europe/Berlin',
      import_max_age_days: 365,
    });
    expect((await listSites(db.client, db.database)).map((s) => s.site_id)).toEqual(['shop.example']);
    expect(await getSite(db.client, db.database, "x' OR '1'='1")).toBeNull();
  });

  it('refuses bad settings with a clear message', async () => {
    await expect(
      addSite(db.client, db.database, { site_id: 'a.com', timezone: 'Mars/Olympus' }),
    ).rejects.toThrow(/IANA time zone/);
    await expect(addSite(db.client, db.database, { site_id: 'Not A Host' })).rejects.toThrow(/host name/);
    await expect(
      addSite(db.client, db.database, { site_id: 'a.com', import_max_age_days: -1 }),
    ).rejects.toThrow(/import_max_age_days/);
  });
});

describe('api tokens', () => {
  it('verify only for their own site and scope, store no secret, and stop working when revoked', async () => {
    const t = await createToken(db.client, db.database, { site: 'a.com', scope: 'read' });
    expect(
      await verifyToken(db.client, db.database, t.secret, { scope: 'read', site: 'a.com' }),
    ).toMatchObject({ site_id: 'a.com' });
    expect(await verifyToken(db.client, db.database, t.secret, { scope: 'read', site: 'b.com' })).toBeNull();
    expect(
      await verifyToken(db.client, db.database, t.secret, { scope: 'ingest', site: 'a.com' }),
    ).toBeNull();
    expect(
      await verifyToken(db.client, db.database, `${t.secret.slice(0, -1)}x`, { scope: 'read' }),
    ).toBeNull();
    const stored = await db.client.query({ query: 'SELECT * FROM api_tokens', format: 'JSONEachRow' });
    expect(JSON.stringify(await stored.json())).not.toContain(t.secret.slice(-43));
    expect(await revokeToken(db.client, db.database, t.id)).toBe(true);
    expect(await verifyToken(db.client, db.database, t.secret, { scope: 'read', site: 'a.com' })).toBeNull();
    expect((await listTokens(db.client, db.database)).find((x) => x.token_id === t.id)?.revoked).toBe(true);
  });

  it('a token for every site reads any site', async () => {
    const t = await createToken(db.client, db.database, { site: '*', scope: 'read' });
    expect(
      await verifyToken(db.client, db.database, t.secret, { scope: 'read', site: 'z.org' }),
    ).not.toBeNull();
  });
});

import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { createClickHouse, queryRows } from '../src/clickhouse/client.ts';
import { MIGRATIONS_DIR, migrate, readMigrations } from '../src/clickhouse/index.ts';
import { createTestDatabase } from '../src/testing/index.ts';

const admin = createClickHouse({ database: 'default' });
afterAll(() => admin.close());

describe('migrations on the real server', () => {
  it('apply in order, are recorded, and a second run applies nothing', async () => {
    const db = await createTestDatabase('migrate');
    try {
      const names = readMigrations(db.database).map((m) => m.name);
      const recorded = await queryRows<{ name: string }>(
        db.client,
        'SELECT name FROM schema_migrations ORDER BY name',
      );
      expect(recorded.map((r) => r.name)).toEqual(names);
      const again = await migrate({ client: admin, database: db.database });
      expect(again).toEqual({ applied: [], skipped: names });
    } finally {
      await db.drop();
    }
  });

  it('create the analyst views with the contracted columns', async () => {
    const db = await createTestDatabase('columns');
    try {
      const columns = async (table: string) =>
        (await queryRows<{ name: string }>(db.client, `DESCRIBE TABLE ${table}`)).map((r) => r.name);
      expect(await columns('events')).toEqual(
        expect.arrayContaining([
          'site_id',
          'event_id',
          'ts',
          'session_id',
          'visitor_id',
          'name',
          'url',
          'path',
          'referrer',
          'engaged_ms',
          'props',
        ]),
      );
      expect(await columns('sessions')).toEqual(
        expect.arrayContaining([
          'site_id',
          'session_id',
          'visitor_id',
          'started_at',
          'ended_at',
          'duration_s',
          'pageviews',
          'events',
          'engaged_ms',
          'entry_path',
          'exit_path',
          'is_bounce',
          'is_engaged',
          'source',
          'medium',
          'campaign',
          'referrer_host',
          'country',
          'device',
          'browser',
          'os',
          'start_reason',
          'is_final',
        ]),
      );
    } finally {
      await db.drop();
    }
  });

  it('refuse to continue when an applied migration was changed', async () => {
    const db = await createTestDatabase('changed');
    const dir = mkdtempSync(`${tmpdir()}/stint-migrations-`);
    try {
      cpSync(MIGRATIONS_DIR, dir, { recursive: true });
      writeFileSync(`${dir}/001_events.sql`, '-- edited after the fact\nSELECT 1;\n');
      await expect(migrate({ client: admin, database: db.database, dir })).rejects.toThrow(
        /001_events\.sql was changed after it was applied/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await db.drop();
    }
  });

  it('the sessions view hides tombstones and older versions', async () => {
    const db = await createTestDatabase('views');
    try {
      const row = (id: string, version: number, deleted: number, pageviews: number) => ({
        site_id: 'a.com',
        session_id: id,
        visitor_id: 'v',
        started_at: '2026-01-31 23:50:00',
        ended_at: '2026-01-31 23:59:00',
        duration_s: 540,
        pageviews,
        events: pageviews,
        start_reason: 'first_visit',
        deleted,
        version,
        updated_at: '2026-02-01 00:00:00',
      });
      await db.client.insert({
        table: 'sessions_raw',
        format: 'JSONEachRow',
        values: [row('s1', 1, 0, 1), row('s2', 1, 0, 1)],
      });
      await db.client.insert({
        table: 'sessions_raw',
        format: 'JSONEachRow',
        values: [row('s1', 2, 0, 3), row('s2', 2, 1, 1), row('s1', 2, 0, 3)],
      });
      const rows = await queryRows<{ session_id: string; pageviews: number }>(
        db.client,
        'SELECT session_id, pageviews FROM sessions ORDER BY session_id',
      );
      expect(rows).toEqual([{ session_id: 's1', pageviews: 3 }]);
    } finally {
      await db.drop();
    }
  });

  it('008 fills the page lists of sessions written before 007 from their page views, keeping the latest version of each session', async () => {
    const db = await createTestDatabase('pages');
    const dir = mkdtempSync(`${tmpdir()}/stint-migrations-`);
    try {
      // The database as it was before 007: migrations 001-006 only.
      await db.drop();
      cpSync(MIGRATIONS_DIR, dir, { recursive: true });
      rmSync(`${dir}/007_session_pages.sql`);
      rmSync(`${dir}/008_session_pages_backfill.sql`);
      await migrate({ client: admin, database: db.database, dir });
      const session = (id: string, version: number, pageviews: number) => ({
        site_id: 'a.com',
        session_id: id,
        visitor_id: `v-${id}`,
        started_at: '2026-01-31 23:50:00',
        pageviews,
        version,
        deleted: 0,
      });
      await admin.insert({
        table: `${db.database}.sessions_raw`,
        format: 'JSONEachRow',
        values: [session('s1', 1, 2), session('s1', 2, 3), session('s2', 1, 0)],
      });
      const view = (id: string, path: string, second: number, name = 'pageview') => ({
        site_id: 'a.com',
        event_id: `${id}-${second}`,
        ts: `2026-01-31 23:50:0${second}`,
        ts_ms: Date.UTC(2026, 0, 31, 23, 50, second),
        session_id: id,
        name,
        path,
        version: 1,
      });
      await admin.insert({
        table: `${db.database}.events_raw`,
        format: 'JSONEachRow',
        values: [
          view('s1', '/b', 2),
          view('s1', '/a', 1),
          view('s1', "/a'\\\t", 3),
          view('s1', '/b', 4),
          view('s1', '/c', 5, 'signup'),
        ],
      });
      await migrate({ client: admin, database: db.database });
      const rows = await queryRows<{
        session_id: string;
        version: string;
        page_paths: string[];
        page_path_views: number[];
        keyed: number;
      }>(
        admin,
        `SELECT session_id, version, page_paths, page_path_views, visitor_key = cityHash64(visitor_id) AS keyed
         FROM ${db.database}.sessions_raw FINAL ORDER BY session_id`,
      );
      expect(rows).toEqual([
        {
          session_id: 's1',
          version: '2',
          page_paths: ['/a', '/b', "/a'\\\t"],
          page_path_views: [1, 2, 1],
          keyed: 1,
        },
        { session_id: 's2', version: '1', page_paths: [], page_path_views: [], keyed: 1 },
      ]);
      expect(
        await queryRows<{ page_paths: string[] }>(
          admin,
          `SELECT page_paths FROM ${db.database}.sessions WHERE session_id = 's1'`,
        ),
      ).toEqual([{ page_paths: ['/a', '/b', "/a'\\\t"] }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await db.drop();
    }
  });
});

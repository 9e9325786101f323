import { Session } from 'chdb';
import { afterAll, describe, expect, it } from 'vitest';
import { readMigrations } from '../src/clickhouse/migrations.ts';

// chdb embeds current ClickHouse (26.x) in-process: every migration must also run on the modern dialect.
const session = new Session();
afterAll(() => session.cleanup());

describe('migrations on modern ClickHouse (chdb)', () => {
  it('every statement of every migration runs and the views answer', () => {
    session.query('CREATE DATABASE IF NOT EXISTS stint_modern');
    const migrations = readMigrations('stint_modern');
    expect(migrations.length).toBeGreaterThanOrEqual(4);
    for (const m of migrations) for (const s of m.statements) session.query(s);
    session.query(
      "INSERT INTO stint_modern.sessions_raw (site_id, session_id, started_at, version, deleted) VALUES ('a.com', 's1', '2026-01-01 00:00:00', 1, 0), ('a.com', 's1', '2026-01-01 00:00:00', 2, 1), ('a.com', 's2', '2026-01-01 00:00:00', 1, 0)",
    );
    const out = session.query('SELECT session_id FROM stint_modern.sessions ORDER BY session_id', 'CSV');
    expect(out.trim()).toBe('"s2"');
    expect(session.query('SELECT count() FROM stint_modern.events', 'CSV').trim()).toBe('0');
    expect(session.query('SELECT count() FROM stint_modern.pageviews', 'CSV').trim()).toBe('0');
  });
});

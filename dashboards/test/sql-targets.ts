/**
 * The fixture loaded into both dialects, behind one `run(sql)`: the real ClickHouse server (18.16 in
 * CI, a fresh `stint_test_*` database) and chdb (current ClickHouse in-process). Queries written for
 * analysts name `stint.<view>`; `rename` points them at the fixture's database.
 */
import { queryRows, readMigrations } from '@stint/infra/clickhouse';
import { createTestDatabase } from '@stint/infra/testing';
import { Session } from 'chdb';
import { eventRows, loadFixture, SESSIONS, sessionRow } from './fixture.ts';

export type Rows = Record<string, unknown>[];

export interface SqlTarget {
  name: string;
  database: string;
  run: (sql: string) => Promise<Rows>;
  close: () => Promise<void>;
}

/** `stint.sessions` → `<database>.sessions` (only the qualified view names, never other text). */
export function rename(sql: string, database: string): string {
  return sql.replace(/\bstint\.(sessions|events|pageviews)\b/g, `${database}.$1`);
}

export async function serverTarget(label: string): Promise<SqlTarget> {
  const db = await createTestDatabase(label);
  await loadFixture(db.client, db.database);
  return {
    name: 'ClickHouse server',
    database: db.database,
    // Trusted SQL from the repository's own docs and dashboards, run as written.
    run: (sql) => queryRows<Record<string, unknown>>(db.client, sql),
    close: () => db.drop(),
  };
}

export function chdbTarget(database: string): SqlTarget {
  const session = new Session();
  session.query(`CREATE DATABASE IF NOT EXISTS ${database}`);
  for (const m of readMigrations(database)) for (const s of m.statements) session.query(s);
  const insert = (table: string, rows: Rows) =>
    session.query(
      `INSERT INTO ${database}.${table} FORMAT JSONEachRow\n${rows.map((r) => JSON.stringify(r)).join('\n')}`,
    );
  insert('sessions_raw', SESSIONS.map(sessionRow));
  insert('events_raw', SESSIONS.flatMap(eventRows));
  return {
    name: 'chdb',
    database,
    run: async (sql) =>
      session
        .query(sql, 'JSONEachRow')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    close: async () => session.cleanup(),
  };
}

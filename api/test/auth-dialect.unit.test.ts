/**
 * The auth store's SQL on current ClickHouse (chdb 26.x in-process), from the same migrations: it is
 * written for 18.16 (auth-store.int.test.ts runs the same scenario there) and must mean the same now.
 */
import { type RawSql, readMigrations } from '@stint/infra/clickhouse';
import { Session } from 'chdb';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { AuthDb } from '../src/auth/store.ts';
import { storeScenario } from './auth-store-scenario.ts';

const DB = 'stint_auth_dialect';
const session = new Session();
const db: AuthDb = {
  database: DB,
  rows: async <T>(q: RawSql) =>
    session
      .query(String(q), 'JSONEachRow')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as T),
  insert: async (table, rows) => {
    session.query(
      `INSERT INTO ${DB}.${table} FORMAT JSONEachRow\n${rows.map((r) => JSON.stringify(r)).join('\n')}`,
    );
  },
};

beforeAll(() => {
  session.query(`CREATE DATABASE IF NOT EXISTS ${DB}`);
  for (const m of readMigrations(DB)) for (const s of m.statements) session.query(s);
});
afterAll(() => session.cleanup());

describe('auth store on modern ClickHouse (chdb)', () => {
  it('users, grants, sessions, activity and audit read back the latest rows, revocations win', async () => {
    await storeScenario(db);
  });
});

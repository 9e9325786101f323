/** The auth store's SQL on ClickHouse 18.16 (the same scenario auth-dialect.unit.test.ts runs on chdb). */
import { createTestDatabase, type TestDatabase } from '@stint/infra/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { clickHouseAuthDb } from '../src/auth/store.ts';
import { storeScenario } from './auth-store-scenario.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('auth_store');
});
afterAll(async () => {
  await db?.drop();
});

describe('auth store on ClickHouse 18.16', () => {
  it('users, grants, sessions, activity and audit read back the latest rows, revocations win', async () => {
    await storeScenario(clickHouseAuthDb(db.client, db.database));
  });
});

/**
 * The auth store's queries against a database given as an AuthDb: the same scenario runs on
 * ClickHouse 18.16 (auth-store.int.test.ts) and on current ClickHouse via chdb
 * (auth-dialect.unit.test.ts). Each write is its own insert, so FINAL (not a merge) must pick the rows.
 */
import { expect } from 'vitest';
import {
  type AuthDb,
  activityOf,
  failureCounts,
  grantsOf,
  insertSession,
  knownOrigins,
  listAudit,
  openSessionsOf,
  revokeSessionRows,
  sessionByHash,
  type UserRow,
  userByEmail,
  userById,
  writeActivity,
  writeAudit,
  writeGrant,
  writeUser,
} from '../src/auth/store.ts';

export async function storeScenario(db: AuthDb): Promise<void> {
  const u: UserRow = {
    email: "o'neil@example.com",
    user_id: 'u1',
    password_hash: 'scrypt$1',
    is_admin: false,
    authz_version: 1,
    created_at: '2030-01-01 00:00:00',
  };
  await writeUser(db, u);
  await writeUser(db, { ...u, password_hash: 'scrypt$2', authz_version: 2 });
  expect(await userByEmail(db, u.email)).toMatchObject({
    password_hash: 'scrypt$2',
    authz_version: 2,
    is_admin: false,
  });
  expect((await userById(db, 'u1'))?.email).toBe(u.email);
  await writeUser(db, { ...u, password_hash: 'scrypt$3' }, true);
  expect(await userByEmail(db, u.email), 'a deleted user is gone').toBeNull();
  expect(await userById(db, 'u1')).toBeNull();

  await writeGrant(db, 'u2', 'a.example', 'viewer');
  await writeGrant(db, 'u2', 'b.example', 'owner');
  await writeGrant(db, 'u2', 'a.example', null);
  expect(await grantsOf(db, 'u2')).toEqual([{ site: 'b.example', role: 'owner' }]);

  const s = {
    session_hash: 'h1',
    user_id: 'u2',
    authz_version: 5,
    created_ms: 1_000,
    ip_prefix: '203.0.113.0/24',
    user_agent: 'UA',
    country: 'DE',
  };
  await insertSession(db, s);
  await insertSession(db, { ...s, session_hash: 'h2' });
  const row = await sessionByHash(db, 'h1');
  expect(row).toMatchObject({ authz_version: 5, created_ms: 1_000, revoked: false });
  if (!row) throw new Error('no row');
  await revokeSessionRows(db, [row], 'logout');
  // A late re-insert of the created row (version 1) must not undo the revocation (version 2).
  await insertSession(db, s);
  expect(await sessionByHash(db, 'h1')).toMatchObject({ revoked: true, revoked_reason: 'logout' });
  expect((await openSessionsOf(db, 'u2')).map((x) => x.session_hash)).toEqual(['h2']);

  await writeActivity(db, 'h2', { last_seen_ms: 5_000, ip_prefix: 'p', country: 'DE' });
  await writeActivity(db, 'h2', { last_seen_ms: 3_000, ip_prefix: 'old', country: 'FR' });
  const act = await activityOf(db, ['h2', 'h1']);
  expect(act.get('h2')).toEqual({ last_seen_ms: 5_000, ip_prefix: 'p', country: 'DE' });
  expect(act.has('h1')).toBe(false);

  const ev = (kind: string, at_ms: number, email: string, ip_hash: string, extra = {}) => ({
    at_ms,
    kind,
    signal: false,
    email,
    user_id: '',
    ip_hash,
    ip_prefix: '',
    country: '',
    user_agent: '',
    detail: '',
    ...extra,
  });
  await writeAudit(db, [
    ev('login_failed', 10_000, 'x@e.com', 'ip1'),
    ev('login_failed', 11_000, 'x@e.com', 'ip2'),
  ]);
  await writeAudit(db, [
    ev('login_ok', 12_000, 'x@e.com', 'ip1', { user_id: 'ux', country: 'DE', user_agent: 'A' }),
  ]);
  await writeAudit(db, [
    ev('login_failed', 13_000, 'x@e.com', 'ip1'),
    ev('login_failed', 14_000, 'y@e.com', 'ip1'),
  ]);
  await writeAudit(db, [ev('new_country', 15_000, 'x@e.com', 'ip1', { signal: true })]);
  expect(await failureCounts(db, { email: 'x@e.com', ipHash: 'ip1', sinceMs: 0 })).toEqual({
    account: 1,
    ip: 3,
  });
  expect(await failureCounts(db, { email: 'y@e.com', ipHash: 'ip2', sinceMs: 0 })).toEqual({
    account: 1,
    ip: 1,
  });
  expect(await failureCounts(db, { email: 'x@e.com', ipHash: 'ip1', sinceMs: 13_500 })).toEqual({
    account: 0,
    ip: 1,
  });
  const known = await knownOrigins(db, 'ux');
  expect({ ...known, countries: [...known.countries], userAgents: [...known.userAgents] }).toEqual({
    countries: ['DE'],
    userAgents: ['A'],
    signIns: 1,
  });
  const signals = await listAudit(db, { signalsOnly: true, limit: 10 });
  expect(signals.map((e) => [e.kind, e.signal])).toEqual([['new_country', true]]);
  const recent = await listAudit(db, { signalsOnly: false, limit: 2, email: 'x@e.com' });
  expect(recent.map((e) => e.at_ms)).toEqual([15_000, 13_000]);
}

/**
 * The auth tables in ClickHouse (migration 005_auth.sql): one function per query. Every value goes
 * through `sql`; rows are read with FINAL with the row key inside the FINAL query and the mutable
 * flags (deleted, revoked) tested outside it. The same SQL runs on 18.16 and on current ClickHouse
 * (test/auth-dialect.unit.test.ts runs it on chdb).
 */
import {
  type ClickHouseClient,
  ident,
  insertRows,
  join,
  queryRows,
  type RawSql,
  sql,
  toDateTime,
} from '@stint/infra/clickhouse';

/** What the auth code needs from a database: the server (`clickHouseAuthDb`) or chdb in tests. */
export interface AuthDb {
  database: string;
  rows<T>(query: RawSql): Promise<T[]>;
  insert(table: string, rows: Record<string, unknown>[]): Promise<void>;
}

export function clickHouseAuthDb(client: ClickHouseClient, database: string): AuthDb {
  return {
    database,
    rows: <T>(q: RawSql) => queryRows<T>(client, q),
    insert: (table, rows) => insertRows(client, `${database}.${table}`, rows),
  };
}

let lastVersion = 0;
/** Row versions: wall-clock µs, strictly increasing within the process. */
export function nextVersion(): number {
  lastVersion = Math.max(lastVersion + 1, Date.now() * 1000);
  return lastVersion;
}

export type Role = 'viewer' | 'owner';
export const ROLES: readonly Role[] = ['viewer', 'owner'];

export interface UserRow {
  email: string;
  user_id: string;
  password_hash: string;
  is_admin: boolean;
  authz_version: number;
  created_at: string;
}

interface RawUser {
  email: string;
  user_id: string;
  password_hash: string;
  is_admin: number | string;
  authz_version: number | string;
  created_at: string;
}

const USER_COLUMNS = sql`email, user_id, password_hash, is_admin, authz_version, toString(created_at) AS created_at`;

const toUser = (r: RawUser): UserRow => ({
  email: r.email,
  user_id: r.user_id,
  password_hash: r.password_hash,
  is_admin: Number(r.is_admin) === 1,
  authz_version: Number(r.authz_version),
  created_at: r.created_at,
});

export async function userByEmail(db: AuthDb, email: string): Promise<UserRow | null> {
  const rows = await db.rows<RawUser>(
    sql`SELECT ${USER_COLUMNS} FROM (SELECT * FROM ${ident(db.database)}.users FINAL WHERE email = ${email})
        WHERE deleted = 0`,
  );
  return rows[0] ? toUser(rows[0]) : null;
}

/** user_id never changes for a row, so it may filter inside FINAL. */
export async function userById(db: AuthDb, userId: string): Promise<UserRow | null> {
  const rows = await db.rows<RawUser>(
    sql`SELECT ${USER_COLUMNS} FROM (SELECT * FROM ${ident(db.database)}.users FINAL WHERE user_id = ${userId})
        WHERE deleted = 0`,
  );
  return rows[0] ? toUser(rows[0]) : null;
}

export async function listUsers(db: AuthDb): Promise<UserRow[]> {
  const rows = await db.rows<RawUser>(
    sql`SELECT ${USER_COLUMNS} FROM (SELECT * FROM ${ident(db.database)}.users FINAL) WHERE deleted = 0
        ORDER BY email`,
  );
  return rows.map(toUser);
}

export async function writeUser(db: AuthDb, u: UserRow, deleted = false): Promise<void> {
  await db.insert('users', [
    {
      email: u.email,
      user_id: u.user_id,
      password_hash: u.password_hash,
      is_admin: u.is_admin ? 1 : 0,
      authz_version: u.authz_version,
      created_at: u.created_at,
      deleted: deleted ? 1 : 0,
      version: nextVersion(),
    },
  ]);
}

export interface Grant {
  site: string;
  role: Role;
}

export async function grantsOf(db: AuthDb, userId: string): Promise<Grant[]> {
  const rows = await db.rows<{ site_id: string; role: Role }>(
    sql`SELECT site_id, role FROM (SELECT * FROM ${ident(db.database)}.user_grants FINAL
        WHERE user_id = ${userId}) WHERE deleted = 0 ORDER BY site_id`,
  );
  return rows.map((r) => ({ site: r.site_id, role: r.role }));
}

export async function writeGrant(db: AuthDb, userId: string, site: string, role: Role | null): Promise<void> {
  await db.insert('user_grants', [
    {
      user_id: userId,
      site_id: site,
      role: role ?? '',
      deleted: role === null ? 1 : 0,
      version: nextVersion(),
    },
  ]);
}

export interface SessionRow {
  session_hash: string;
  user_id: string;
  authz_version: number;
  created_ms: number;
  ip_prefix: string;
  user_agent: string;
  country: string;
  revoked: boolean;
  revoked_reason: string;
}

interface RawSession extends Omit<SessionRow, 'revoked' | 'authz_version' | 'created_ms'> {
  revoked: number | string;
  authz_version: number | string;
  created_ms: number | string;
}

const toSession = (r: RawSession): SessionRow => ({
  ...r,
  authz_version: Number(r.authz_version),
  created_ms: Number(r.created_ms),
  revoked: Number(r.revoked) === 1,
});

const SESSION_COLUMNS = sql`session_hash, user_id, authz_version, created_ms, ip_prefix, user_agent, country,
  revoked, revoked_reason`;

/** The session with this hash, revoked or not (the caller decides). */
export async function sessionByHash(db: AuthDb, hash: string): Promise<SessionRow | null> {
  const rows = await db.rows<RawSession>(
    sql`SELECT ${SESSION_COLUMNS} FROM ${ident(db.database)}.auth_sessions FINAL WHERE session_hash = ${hash}`,
  );
  return rows[0] ? toSession(rows[0]) : null;
}

/** Sessions of a user not revoked yet (expired ones included: the caller knows the clock). */
export async function openSessionsOf(db: AuthDb, userId: string): Promise<SessionRow[]> {
  const rows = await db.rows<RawSession>(
    sql`SELECT ${SESSION_COLUMNS} FROM (SELECT * FROM ${ident(db.database)}.auth_sessions FINAL
        WHERE user_id = ${userId}) WHERE revoked = 0 ORDER BY created_ms`,
  );
  return rows.map(toSession);
}

export async function insertSession(
  db: AuthDb,
  s: Omit<SessionRow, 'revoked' | 'revoked_reason'>,
): Promise<void> {
  await db.insert('auth_sessions', [{ ...s, revoked: 0, revoked_reason: '', version: 1 }]);
}

export async function revokeSessionRows(db: AuthDb, sessions: SessionRow[], reason: string): Promise<void> {
  await db.insert(
    'auth_sessions',
    sessions.map((s) => ({ ...s, revoked: 1, revoked_reason: reason, version: 2 })),
  );
}

export interface Activity {
  last_seen_ms: number;
  ip_prefix: string;
  country: string;
}

export async function activityOf(db: AuthDb, hashes: string[]): Promise<Map<string, Activity>> {
  if (hashes.length === 0) return new Map();
  const rows = await db.rows<{
    session_hash: string;
    last_seen_ms: string | number;
    ip_prefix: string;
    country: string;
  }>(
    sql`SELECT session_hash, last_seen_ms, ip_prefix, country FROM ${ident(db.database)}.auth_session_activity FINAL
        WHERE session_hash IN (${join(hashes)})`,
  );
  return new Map(
    rows.map((r) => [
      r.session_hash,
      { last_seen_ms: Number(r.last_seen_ms), ip_prefix: r.ip_prefix, country: r.country },
    ]),
  );
}

export async function writeActivity(db: AuthDb, hash: string, a: Activity): Promise<void> {
  await db.insert('auth_session_activity', [{ session_hash: hash, ...a }]);
}

export interface AuditEvent {
  at_ms: number;
  kind: string;
  signal: boolean;
  email: string;
  user_id: string;
  ip_hash: string;
  ip_prefix: string;
  country: string;
  user_agent: string;
  detail: string;
}

export async function writeAudit(db: AuthDb, events: AuditEvent[]): Promise<void> {
  await db.insert(
    'auth_audit',
    events.map((e) => ({ ...e, at: toDateTime(e.at_ms), signal: e.signal ? 1 : 0 })),
  );
}

export async function listAudit(
  db: AuthDb,
  o: { signalsOnly: boolean; limit: number; email?: string },
): Promise<AuditEvent[]> {
  const conds = [sql`1`];
  if (o.signalsOnly) conds.push(sql`signal = 1`);
  if (o.email !== undefined) conds.push(sql`email = ${o.email}`);
  const where = conds.reduce((a, c) => sql`${a} AND ${c}`);
  const rows = await db.rows<
    Omit<AuditEvent, 'at_ms' | 'signal'> & { at_ms: string | number; signal: number | string }
  >(
    sql`SELECT at_ms, kind, signal, email, user_id, ip_hash, ip_prefix, country, user_agent, detail
        FROM ${ident(db.database)}.auth_audit WHERE ${where} ORDER BY at_ms DESC, kind LIMIT ${o.limit}`,
  );
  return rows.map((r) => ({ ...r, at_ms: Number(r.at_ms), signal: Number(r.signal) === 1 }));
}

/**
 * Failed sign-ins since `sinceMs`: for the account (only those from its last successful sign-in on)
 * and for the client address. Every instance writes and reads the same table, so the limits hold
 * across instances.
 */
export async function failureCounts(
  db: AuthDb,
  o: { email: string; ipHash: string; sinceMs: number },
): Promise<{ account: number; ip: number }> {
  const t = sql`${ident(db.database)}.auth_audit`;
  const rows = await db.rows<{ account: string | number; ip: string | number }>(
    sql`SELECT
          countIf(email = ${o.email} AND at_ms >= (SELECT max(at_ms) FROM ${t}
            WHERE kind = 'login_ok' AND email = ${o.email})) AS account,
          countIf(ip_hash = ${o.ipHash}) AS ip
        FROM ${t} WHERE kind = 'login_failed' AND at_ms >= ${o.sinceMs}`,
  );
  return { account: Number(rows[0]?.account ?? 0), ip: Number(rows[0]?.ip ?? 0) };
}

/** Countries and user agents of the account's earlier successful sign-ins. */
export async function knownOrigins(
  db: AuthDb,
  userId: string,
): Promise<{ countries: Set<string>; userAgents: Set<string>; signIns: number }> {
  const rows = await db.rows<{ country: string; user_agent: string; n: string | number }>(
    sql`SELECT country, user_agent, count() AS n FROM ${ident(db.database)}.auth_audit
        WHERE kind = 'login_ok' AND user_id = ${userId} GROUP BY country, user_agent LIMIT 10000`,
  );
  return {
    countries: new Set(rows.map((r) => r.country)),
    userAgents: new Set(rows.map((r) => r.user_agent)),
    signIns: rows.reduce((a, r) => a + Number(r.n), 0),
  };
}

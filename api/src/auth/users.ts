/** Account administration (the `stint users` commands; tests use it to set up accounts). */
import { randomBytes } from 'node:crypto';
import { toDateTime } from '@stint/infra/clickhouse';
import { hashPassword, passwordProblem, type ScryptParams } from './password.ts';
import { normalizeEmail } from './service.ts';
import {
  type AuthDb,
  activityOf,
  type Grant,
  grantsOf,
  nextVersion,
  openSessionsOf,
  type Role,
  revokeSessionRows,
  type UserRow,
  userByEmail,
  writeAudit,
  writeGrant,
  writeUser,
} from './store.ts';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export class UserError extends Error {}

async function mustFind(db: AuthDb, email: string): Promise<UserRow> {
  const u = await userByEmail(db, normalizeEmail(email));
  if (!u) throw new UserError(`no user ${normalizeEmail(email)}`);
  return u;
}

/** A privilege change: sessions made before it are rotated at their next request. */
async function bumpAuthz(db: AuthDb, u: UserRow, change: Partial<UserRow> = {}): Promise<void> {
  await writeUser(db, { ...u, ...change, authz_version: nextVersion() });
}

const adminEvent = (kind: string, u: UserRow, detail: string) => ({
  at_ms: Date.now(),
  kind,
  signal: false,
  email: u.email,
  user_id: u.user_id,
  ip_hash: '',
  ip_prefix: '',
  country: '',
  user_agent: 'stint cli',
  detail,
});

export async function addUser(
  db: AuthDb,
  input: { email: string; password: string; admin?: boolean; scrypt?: ScryptParams },
): Promise<UserRow> {
  const email = normalizeEmail(input.email);
  if (!EMAIL.test(email) || email.length > 254) throw new UserError(`not an e-mail address: ${email}`);
  if (await userByEmail(db, email))
    throw new UserError(`${email} exists already (use users passwd or grant)`);
  const problem = passwordProblem(input.password, email);
  if (problem) throw new UserError(problem);
  const user: UserRow = {
    email,
    user_id: randomBytes(8).toString('hex'),
    password_hash: await hashPassword(input.password, input.scrypt),
    is_admin: input.admin ?? false,
    authz_version: nextVersion(),
    created_at: toDateTime(Date.now()),
  };
  await writeUser(db, user);
  await writeAudit(db, [adminEvent('user_added', user, user.is_admin ? 'admin' : '')]);
  return user;
}

/** Sets a new password and ends every session of the account. */
export async function setPassword(
  db: AuthDb,
  emailInput: string,
  password: string,
  scrypt?: ScryptParams,
): Promise<{ sessionsEnded: number }> {
  const u = await mustFind(db, emailInput);
  const problem = passwordProblem(password, u.email);
  if (problem) throw new UserError(problem);
  await writeUser(db, { ...u, password_hash: await hashPassword(password, scrypt) });
  const open = await openSessionsOf(db, u.user_id);
  await revokeSessionRows(db, open, 'password_changed');
  await writeAudit(db, [adminEvent('password_changed', u, `${open.length} sessions ended`)]);
  return { sessionsEnded: open.length };
}

export async function setAdmin(db: AuthDb, emailInput: string, admin: boolean): Promise<void> {
  const u = await mustFind(db, emailInput);
  await bumpAuthz(db, u, { is_admin: admin });
  await writeAudit(db, [adminEvent('privileges_changed', u, admin ? 'admin' : 'not admin')]);
}

/** Gives (or with role null takes away) a site; a privilege change. */
export async function grantSite(
  db: AuthDb,
  emailInput: string,
  site: string,
  role: Role | null,
): Promise<void> {
  const u = await mustFind(db, emailInput);
  await writeGrant(db, u.user_id, site, role);
  await bumpAuthz(db, u);
  await writeAudit(db, [adminEvent('privileges_changed', u, `${site}: ${role ?? 'none'}`)]);
}

export async function removeUser(db: AuthDb, emailInput: string): Promise<{ sessionsEnded: number }> {
  const u = await mustFind(db, emailInput);
  await writeUser(db, u, true);
  const open = await openSessionsOf(db, u.user_id);
  await revokeSessionRows(db, open, 'user_removed');
  await writeAudit(db, [adminEvent('user_removed', u, `${open.length} sessions ended`)]);
  return { sessionsEnded: open.length };
}

export interface SessionInfo {
  id: string;
  created: string;
  last_seen: string;
  ip_prefix: string;
  user_agent: string;
  country: string;
}

/**
 * Active sessions of an account (not revoked, not expired at `now`). `id` is the first 12 hex digits
 * of the stored hash: enough to tell sessions apart, useless as a credential.
 */
export async function userSessions(
  db: AuthDb,
  emailInput: string,
  o: { now: number; idleTimeoutMs: number; absoluteTimeoutMs: number },
): Promise<SessionInfo[]> {
  const u = await mustFind(db, emailInput);
  const open = await openSessionsOf(db, u.user_id);
  const acts = await activityOf(
    db,
    open.map((s) => s.session_hash),
  );
  const out: SessionInfo[] = [];
  for (const s of open) {
    const a = acts.get(s.session_hash);
    const last = Math.max(s.created_ms, a?.last_seen_ms ?? 0);
    if (o.now - s.created_ms >= o.absoluteTimeoutMs || o.now - last >= o.idleTimeoutMs) continue;
    out.push({
      id: s.session_hash.slice(0, 12),
      created: new Date(s.created_ms).toISOString(),
      last_seen: new Date(last).toISOString(),
      ip_prefix: a?.ip_prefix || s.ip_prefix,
      user_agent: s.user_agent,
      country: a?.country || s.country,
    });
  }
  return out;
}

export async function revokeUserSessions(db: AuthDb, emailInput: string): Promise<number> {
  const u = await mustFind(db, emailInput);
  const open = await openSessionsOf(db, u.user_id);
  await revokeSessionRows(db, open, 'revoked_by_admin');
  await writeAudit(db, [adminEvent('sessions_revoked', u, `${open.length} sessions ended`)]);
  return open.length;
}

export async function describeUser(db: AuthDb, emailInput: string): Promise<UserRow & { grants: Grant[] }> {
  const u = await mustFind(db, emailInput);
  return { ...u, grants: await grantsOf(db, u.user_id) };
}

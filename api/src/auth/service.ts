/**
 * Sign-in sessions: sign-in with throttling, session checks with idle and absolute timeouts, rotation,
 * sign-out, password change, unusual-activity signals. No HTTP here (routes.ts) and no SQL
 * (store.ts); the clock is injected so tests can move time.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ClientInfo } from './client-info.ts';
import type { AuthSettings } from './config.ts';
import { hashPassword, needsRehash, passwordProblem, verifyPassword } from './password.ts';
import {
  type AuditEvent,
  type AuthDb,
  activityOf,
  failureCounts,
  type Grant,
  grantsOf,
  insertSession,
  knownOrigins,
  openSessionsOf,
  revokeSessionRows,
  type SessionRow,
  sessionByHash,
  type UserRow,
  userByEmail,
  userById,
  writeActivity,
  writeAudit,
  writeUser,
} from './store.ts';

/** 32 bytes from the CSPRNG, base64url: 256 bits. */
export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export function hashSessionId(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

/**
 * The CSRF token of a session: an HMAC keyed by the session id, so it needs no storage, changes with
 * every rotation, and cannot be computed without the (HttpOnly) session id.
 */
export function csrfToken(sessionId: string): string {
  return createHmac('sha256', sessionId).update('stint-csrf-v1').digest('base64url');
}

export function csrfMatches(sessionId: string, token: string): boolean {
  const want = Buffer.from(csrfToken(sessionId));
  const got = Buffer.from(token);
  return want.length === got.length && timingSafeEqual(want, got);
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export interface Principal {
  user: UserRow;
  grants: Grant[];
  /** The id the client must use from now on (a new one when the session was rotated). */
  sessionId: string;
  rotated: boolean;
  session: SessionRow;
  idleExpiresMs: number;
  absoluteExpiresMs: number;
}

export type SignInResult =
  | { ok: true; principal: Principal }
  | { ok: false; status: 401 }
  | { ok: false; status: 429; retryAfterS: number };

export interface AuthServiceOptions {
  db: AuthDb;
  settings: AuthSettings;
  now: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const SIGNAL_KINDS = ['new_country', 'new_user_agent', 'many_failures', 'session_country_change'];

export { SIGNAL_KINDS };

export function createAuthService(o: AuthServiceOptions) {
  const { db, settings: s, now } = o;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  /** Sign-ins running on this instance per account / address, so parallel attempts count too. */
  const pending = new Map<string, number>();
  /** Rotations done here recently: parallel requests with the old id get the same new one. */
  const rotations = new Map<string, { at: number; result: Promise<{ id: string; row: SessionRow }> }>();
  /** Sessions already reported as used from two countries (per instance). */
  const flagged = new Set<string>();

  const bump = (key: string, by: number) => {
    const n = (pending.get(key) ?? 0) + by;
    if (n <= 0) pending.delete(key);
    else pending.set(key, n);
    return n;
  };

  const audit = (kind: string, info: ClientInfo, extra: Partial<AuditEvent> = {}): AuditEvent => ({
    at_ms: now(),
    kind,
    signal: SIGNAL_KINDS.includes(kind),
    email: '',
    user_id: '',
    ip_hash: info.ipHash,
    ip_prefix: info.ipPrefix,
    country: info.country,
    user_agent: info.userAgent,
    detail: '',
    ...extra,
  });

  const delayFor = (failures: number, after: number) =>
    failures < after ? 0 : Math.min(s.delayMaxMs, s.delayBaseMs * 2 ** (failures - after));

  async function createSession(
    user: UserRow,
    info: ClientInfo,
    createdMs: number,
  ): Promise<{ id: string; row: SessionRow }> {
    const id = newSessionId();
    const row: SessionRow = {
      session_hash: hashSessionId(id),
      user_id: user.user_id,
      authz_version: user.authz_version,
      created_ms: createdMs,
      ip_prefix: info.ipPrefix,
      user_agent: info.userAgent,
      country: info.country,
      revoked: false,
      revoked_reason: '',
    };
    await insertSession(db, row);
    return { id, row };
  }

  async function principalOf(
    user: UserRow,
    id: string,
    row: SessionRow,
    lastSeen: number,
    rotated: boolean,
    grants?: Grant[],
  ) {
    return {
      user,
      grants: grants ?? (await grantsOf(db, user.user_id)),
      sessionId: id,
      rotated,
      session: row,
      idleExpiresMs: lastSeen + s.idleTimeoutMs,
      absoluteExpiresMs: row.created_ms + s.absoluteTimeoutMs,
    } satisfies Principal;
  }

  /**
   * Runs `attempt` under the failure limits of the account and the address: refused with 429 over
   * the limit, delayed progressively below it; a false result is recorded as a failure.
   */
  async function throttled(
    email: string,
    info: ClientInfo,
    attempt: () => Promise<{ ok: boolean; userId: string }>,
  ): Promise<{ ok: true } | { ok: false; status: 401 } | { ok: false; status: 429; retryAfterS: number }> {
    const ka = `a:${email}`;
    const ki = `i:${info.ipHash}`;
    const mineA = bump(ka, 1);
    const mineI = bump(ki, 1);
    try {
      const counts = await failureCounts(db, {
        email,
        ipHash: info.ipHash,
        sinceMs: now() - s.failureWindowMs,
      });
      const account = counts.account + mineA - 1;
      const ip = counts.ip + mineI - 1;
      if (account >= s.maxAccountFailures || ip >= s.maxIpFailures) {
        await writeAudit(db, [
          audit('login_throttled', info, {
            email,
            detail: account >= s.maxAccountFailures ? 'account' : 'ip',
          }),
        ]);
        return { ok: false, status: 429, retryAfterS: Math.ceil(s.failureWindowMs / 1000) };
      }
      await sleep(Math.max(delayFor(account, s.accountDelayAfter), delayFor(ip, s.ipDelayAfter)));
      const r = await attempt();
      if (r.ok) return { ok: true };
      const events = [audit('login_failed', info, { email, user_id: r.userId })];
      if (account + 1 === s.manyFailuresSignalAt) {
        events.push(
          audit('many_failures', info, {
            email,
            user_id: r.userId,
            detail: `${account + 1} failed sign-ins within ${Math.round(s.failureWindowMs / 60_000)} min`,
          }),
        );
      }
      await writeAudit(db, events);
      return { ok: false, status: 401 };
    } finally {
      bump(ka, -1);
      bump(ki, -1);
    }
  }

  async function revokeAll(userId: string, reason: string): Promise<number> {
    const open = await openSessionsOf(db, userId);
    await revokeSessionRows(db, open, reason);
    return open.length;
  }

  return {
    settings: s,

    /**
     * Checks the password; on success issues a NEW session id (never one the client brought) and
     * revokes the session the client signed in from, if any. Unknown account and wrong password take
     * the same path: same lookups, one scrypt run, one failure record, the same answer.
     */
    async signIn(
      emailInput: string,
      password: string,
      info: ClientInfo,
      previousSessionId?: string,
    ): Promise<SignInResult> {
      const email = normalizeEmail(emailInput);
      let user: UserRow | null = null;
      const r = await throttled(email, info, async () => {
        user = await userByEmail(db, email);
        const ok = await verifyPassword(password, user?.password_hash ?? null, s.scrypt);
        return { ok, userId: user?.user_id ?? '' };
      });
      if (!r.ok) return r;
      let u = user as unknown as UserRow;
      if (needsRehash(u.password_hash, s.scrypt)) {
        u = { ...u, password_hash: await hashPassword(password, s.scrypt) };
        await writeUser(db, u);
      }
      const known = await knownOrigins(db, u.user_id);
      const { id, row } = await createSession(u, info, now());
      if (previousSessionId && SESSION_ID.test(previousSessionId)) {
        const old = await sessionByHash(db, hashSessionId(previousSessionId));
        if (old && !old.revoked) await revokeSessionRows(db, [old], 'signed_in_again');
      }
      const who = { email, user_id: u.user_id };
      const events = [audit('login_ok', info, who)];
      if (known.signIns > 0 && info.country !== '' && !known.countries.has(info.country)) {
        events.push(audit('new_country', info, { ...who, detail: `first sign-in from ${info.country}` }));
      }
      if (known.signIns > 0 && !known.userAgents.has(info.userAgent)) {
        events.push(audit('new_user_agent', info, { ...who, detail: 'first sign-in with this user agent' }));
      }
      await writeAudit(db, events);
      return { ok: true, principal: await principalOf(u, id, row, now(), false) };
    },

    /**
     * The principal of a session id, or null when it is unknown, revoked, idle too long or too old.
     * `background` requests (the realtime panel's polling) are checked but do not count as activity.
     * A session made before the user's last privilege change is rotated: the old id is revoked and
     * the returned principal carries the new one.
     */
    async authenticate(
      sessionId: string,
      info: ClientInfo,
      opts: { background: boolean },
    ): Promise<Principal | null> {
      if (!SESSION_ID.test(sessionId)) return null;
      const hash = hashSessionId(sessionId);
      const t = now();
      const recent = rotations.get(hash);
      if (recent && t - recent.at < 30_000) {
        const { id, row } = await recent.result;
        const user = await userById(db, row.user_id);
        return user ? principalOf(user, id, row, t, true) : null;
      }
      const [row, acts] = await Promise.all([sessionByHash(db, hash), activityOf(db, [hash])]);
      if (!row || row.revoked) return null;
      const lastSeen = Math.max(row.created_ms, acts.get(hash)?.last_seen_ms ?? 0);
      if (t - row.created_ms >= s.absoluteTimeoutMs) {
        await revokeSessionRows(db, [row], 'expired_absolute');
        return null;
      }
      if (t - lastSeen >= s.idleTimeoutMs) {
        await revokeSessionRows(db, [row], 'expired_idle');
        return null;
      }
      // The user and their grants in parallel: a request pays two round trips, not three.
      const [user, grants] = await Promise.all([userById(db, row.user_id), grantsOf(db, row.user_id)]);
      if (!user) {
        await revokeSessionRows(db, [row], 'user_removed');
        return null;
      }
      if (info.country && row.country && info.country !== row.country && !flagged.has(hash)) {
        flagged.add(hash);
        await writeAudit(db, [
          audit('session_country_change', info, {
            email: user.email,
            user_id: user.user_id,
            detail: `session started in ${row.country}, now used from ${info.country}`,
          }),
        ]);
      }
      if (user.authz_version !== row.authz_version) {
        const result = (async () => {
          const fresh = await createSession(user, info, row.created_ms);
          await writeActivity(db, fresh.row.session_hash, {
            last_seen_ms: t,
            ip_prefix: info.ipPrefix,
            country: info.country,
          });
          await revokeSessionRows(db, [row], 'rotated');
          await writeAudit(db, [
            audit('session_rotated', info, { email: user.email, user_id: user.user_id }),
          ]);
          return fresh;
        })();
        rotations.set(hash, { at: t, result });
        for (const [k, v] of rotations) if (t - v.at > 60_000) rotations.delete(k);
        const { id, row: fresh } = await result;
        return principalOf(user, id, fresh, t, true, grants);
      }
      let seen = lastSeen;
      if (!opts.background && t - lastSeen >= s.touchIntervalMs) {
        await writeActivity(db, hash, { last_seen_ms: t, ip_prefix: info.ipPrefix, country: info.country });
        seen = t;
      }
      return principalOf(user, sessionId, row, seen, false, grants);
    },

    async signOut(sessionId: string, info: ClientInfo): Promise<boolean> {
      if (!SESSION_ID.test(sessionId)) return false;
      const row = await sessionByHash(db, hashSessionId(sessionId));
      if (!row || row.revoked) return false;
      await revokeSessionRows(db, [row], 'logout');
      await writeAudit(db, [audit('logout', info, { user_id: row.user_id })]);
      return true;
    },

    /**
     * Changes the signed-in user's password: the current one must be right (failures count like
     * failed sign-ins); every session of the user ends and this browser gets a new one.
     */
    async changePassword(
      p: Principal,
      current: string,
      next: string,
      info: ClientInfo,
    ): Promise<
      | { ok: true; principal: Principal }
      | { ok: false; status: 400; message: string }
      | Exclude<SignInResult, { ok: true }>
    > {
      const problem = passwordProblem(next, p.user.email);
      if (problem) return { ok: false, status: 400, message: problem };
      const r = await throttled(p.user.email, info, async () => ({
        ok: await verifyPassword(current, p.user.password_hash, s.scrypt),
        userId: p.user.user_id,
      }));
      if (!r.ok) return r;
      const user = { ...p.user, password_hash: await hashPassword(next, s.scrypt) };
      await writeUser(db, user);
      const ended = await revokeAll(user.user_id, 'password_changed');
      const { id, row } = await createSession(user, info, p.session.created_ms);
      await writeActivity(db, row.session_hash, {
        last_seen_ms: now(),
        ip_prefix: info.ipPrefix,
        country: info.country,
      });
      await writeAudit(db, [
        audit('password_changed', info, {
          email: user.email,
          user_id: user.user_id,
          detail: `${ended} sessions ended`,
        }),
      ]);
      return { ok: true, principal: await principalOf(user, id, row, now(), true) };
    },

    revokeAll,
  };
}

export type AuthService = ReturnType<typeof createAuthService>;

/**
 * Sign-in sessions through the real HTTP server (buildApi + listen on a port, fetch) against
 * ClickHouse 18.16: cookie flags, timeouts on a movable clock, revocation, rotation, CSRF, throttling,
 * site isolation, several instances sharing sessions, restarts, unusual-activity signals.
 */
import { createTestDatabase, type TestDatabase } from '@stint/infra/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSessionId } from '../src/auth/service.ts';
import { type AuthDb, sessionByHash } from '../src/auth/store.ts';
import * as users from '../src/auth/users.ts';
import { Client, Clock, type Instance, PASSWORD, SITE_A, SITE_B, seed, startApi } from './auth-helpers.ts';

const MIN = 60_000;
let db: TestDatabase;
let adb: AuthDb;
const clock = new Clock();
let api: Instance;
const instances: Instance[] = [];
let ipSeq = 1;
/** Every client its own address, so the per-address failure counts of one test do not leak into another. */
const client = (base = api.base) => new Client(base, `203.0.113.${ipSeq++}`);

beforeAll(async () => {
  db = await createTestDatabase('auth');
  adb = await seed(db);
  api = await startApi(db, { now: clock.now });
  instances.push(api);
});

afterAll(async () => {
  for (const i of instances) await i.close();
  await db?.drop();
});

describe('sign-in and the session cookie', () => {
  it('sign-in sets an HttpOnly, SameSite=Strict, Path=/ cookie (not Secure on plain-http 127.0.0.1) that reads the reports', async () => {
    const c = client();
    expect((await c.summary()).status).toBe(401);
    const r = await c.login('Viewer@Example.com');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      email: 'viewer@example.com',
      admin: false,
      sites: [{ site: SITE_A, role: 'viewer' }],
    });
    expect(r.setCookie).toHaveLength(1);
    const cookie = r.setCookie[0] ?? '';
    expect(cookie).toMatch(/^stint_session=[A-Za-z0-9_-]{43};/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).toContain('Path=/');
    expect(cookie).not.toContain('Secure');
    expect(cookie).not.toMatch(/Max-Age|Expires/);
    const s = await c.summary();
    expect(s.status).toBe(200);
    expect(s.body.site).toBe(SITE_A);
  });

  it('behind TLS (or on any host but localhost) the cookie is Secure and __Host- prefixed', async () => {
    const c = client();
    c.extra = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'stint.example.com' };
    c.base = api.base;
    const r = await c.login('viewer@example.com', PASSWORD, { origin: 'https://stint.example.com' });
    expect(r.status).toBe(200);
    const cookie = r.setCookie[0] ?? '';
    expect(cookie).toMatch(/^__Host-stint_session=[A-Za-z0-9_-]{43};/);
    expect(cookie).toContain('Secure');
    expect(cookie).toContain('HttpOnly');
    expect((await c.summary()).status).toBe(200);
  });

  it('only the SHA-256 of the session id is stored', async () => {
    const c = client();
    await c.login('viewer@example.com');
    const id = (c.cookie ?? '').split('=')[1] ?? '';
    const row = await sessionByHash(adb, hashSessionId(id));
    expect(row?.user_id).toBeTruthy();
    const all = await db.client.query({
      query: `SELECT * FROM ${db.database}.auth_sessions`,
      format: 'JSONEachRow',
    });
    expect(JSON.stringify(await all.json())).not.toContain(id);
  });

  it('an unknown account and a wrong password get the same answer in similar time', async () => {
    // No progressive delay here: it would slow the repeated wrong passwords, not the scrypt work compared.
    const plain = await startApi(db, { now: clock.now, accountDelayAfter: 100 });
    instances.push(plain);
    const timed = async (email: string, password: string) => {
      const c = client(plain.base);
      const t = performance.now();
      const r = await c.login(email, password);
      return { status: r.status, body: r.body, cookies: r.setCookie.length, ms: performance.now() - t };
    };
    const wrong: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 4; i++) {
      const a = await timed('viewer@example.com', `wrong password ${i}`);
      const b = await timed(`nobody${i}@example.com`, `wrong password ${i}`);
      expect(a).toMatchObject({ status: 401, cookies: 0 });
      expect({ status: b.status, body: b.body, cookies: b.cookies }).toEqual({
        status: a.status,
        body: a.body,
        cookies: a.cookies,
      });
      wrong.push(a.ms);
      unknown.push(b.ms);
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;
    // Both run one scrypt of the same cost (~100+ ms); without the dummy hash the unknown case takes ~5 ms.
    expect(median(unknown)).toBeGreaterThan(median(wrong) * 0.4);
    expect(median(unknown)).toBeLessThan(median(wrong) * 2.5);
    await users.revokeUserSessions(adb, 'viewer@example.com');
  });
});

describe('timeouts (injected clock)', () => {
  it('a session idle for 30 minutes is refused; activity within them keeps it alive', async () => {
    const c = client();
    await c.login('viewer@example.com');
    for (let i = 0; i < 3; i++) {
      clock.advance(25 * MIN);
      expect((await c.summary()).status, `after ${(i + 1) * 25} min of steady use`).toBe(200);
    }
    clock.advance(30 * MIN);
    expect((await c.summary()).status).toBe(401);
    clock.advance(-30 * MIN + 1);
    expect((await c.summary()).status, 'an expired session stays dead').toBe(401);
  });

  it('background polling of the realtime panel does not keep a session alive', async () => {
    const c = client();
    await c.login('viewer@example.com');
    clock.advance(10 * MIN);
    expect((await c.summary()).status).toBe(200);
    for (let i = 0; i < 5; i++) {
      clock.advance(5 * MIN);
      expect((await c.realtime()).status).toBe(200);
      expect((await c.summary(SITE_A, { 'x-stint-background': '1' })).status).toBe(200);
    }
    clock.advance(5 * MIN);
    expect((await c.realtime()).status, '30 min after the last real activity').toBe(401);
  });

  it('a session is refused 12 hours after sign-in however active it is', async () => {
    const c = client();
    await c.login('viewer@example.com');
    for (let h = 0; h < 23; h++) {
      clock.advance(30 * MIN - 1);
      expect((await c.request('GET', '/auth/me')).status, `at ${h / 2} h`).toBe(200);
    }
    clock.advance(30 * MIN);
    expect((await c.summary()).status).toBe(401);
  });

  it('timeouts are configurable', async () => {
    const short = await startApi(db, { now: clock.now, idleTimeoutMs: 2 * MIN, absoluteTimeoutMs: 5 * MIN });
    instances.push(short);
    const c = client(short.base);
    await c.login('viewer@example.com');
    clock.advance(2 * MIN - 1);
    expect((await c.summary()).status).toBe(200);
    clock.advance(2 * MIN - 1);
    expect((await c.summary()).status).toBe(200);
    clock.advance(MIN + 2);
    expect((await c.summary()).status, 'past 5 min absolute').toBe(401);
  });
});

describe('revocation and rotation', () => {
  it('logout ends the session server-side: the same cookie is refused on the next request', async () => {
    const c = client();
    await c.login('viewer@example.com');
    const copy = c.clone();
    const r = await c.logout();
    expect(r.status).toBe(204);
    expect(r.setCookie[0]).toMatch(/^stint_session=;/);
    expect((await copy.summary()).status).toBe(401);
    expect((await copy.request('GET', '/auth/me')).status).toBe(401);
  });

  it('stint users sessions --revoke (revokeUserSessions) ends sessions at once; the list shows them before', async () => {
    await users.revokeUserSessions(adb, 'admin@example.com');
    const c = client();
    await c.login('admin@example.com', PASSWORD, { 'user-agent': 'TestBrowser/1.0' });
    expect((await c.summary(SITE_B)).status).toBe(200);
    const list = await users.userSessions(adb, 'admin@example.com', {
      now: clock.t,
      idleTimeoutMs: 30 * MIN,
      absoluteTimeoutMs: 12 * 60 * MIN,
    });
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({
      user_agent: 'TestBrowser/1.0',
      ip_prefix: expect.stringMatching(/^203\.0\.113\.0\/24$/),
    });
    expect(await users.revokeUserSessions(adb, 'admin@example.com')).toBe(1);
    expect((await c.summary(SITE_B)).status).toBe(401);
  });

  it('sign-in issues a new id and ends the session the browser came with (no fixation)', async () => {
    const c = client();
    await c.login('viewer@example.com');
    const before = c.clone();
    const r = await c.login('viewer@example.com');
    expect(r.status).toBe(200);
    expect(c.cookie).not.toBe(before.cookie);
    expect((await before.summary()).status).toBe(401);
    expect((await c.summary()).status).toBe(200);
  });

  it('a privilege change rotates the session id at the next request; the old id is refused after', async () => {
    await users.addUser(adb, { email: 'rotate@example.com', password: PASSWORD });
    await users.grantSite(adb, 'rotate@example.com', SITE_A, 'viewer');
    const c = client();
    await c.login('rotate@example.com');
    const old = c.clone();
    expect((await c.summary(SITE_B)).status).toBe(403);
    await users.grantSite(adb, 'rotate@example.com', SITE_B, 'owner');
    const r = await c.summary(SITE_B);
    expect(r.status).toBe(200);
    expect(r.setCookie).toHaveLength(1);
    expect(c.cookie).not.toBe(old.cookie);
    // Requests already in flight with the old id within the grace time get the new id too.
    expect((await old.clone().summary(SITE_B)).status).toBe(200);
    clock.advance(31_000);
    expect((await old.summary()).status).toBe(401);
    expect((await c.summary()).status).toBe(200);
    await users.grantSite(adb, 'rotate@example.com', SITE_B, null);
    expect((await c.summary(SITE_B)).status, 'a taken-away site is refused at once').toBe(403);
  });

  it('changing the password ends every other session and rotates this one', async () => {
    await users.addUser(adb, { email: 'pw@example.com', password: PASSWORD });
    await users.grantSite(adb, 'pw@example.com', SITE_A, 'owner');
    const a = client();
    const b = client();
    await a.login('pw@example.com');
    await b.login('pw@example.com');
    const aOld = a.clone();
    const weak = await a.request('POST', '/auth/password', {
      body: { current_password: PASSWORD, new_password: 'password123' },
      headers: { 'x-stint-csrf': a.csrf },
    });
    expect(weak.status).toBe(400);
    expect(weak.body.message).toMatch(/common/);
    const r = await a.request('POST', '/auth/password', {
      body: { current_password: PASSWORD, new_password: 'a much better passphrase' },
      headers: { 'x-stint-csrf': a.csrf },
    });
    expect(r.status).toBe(200);
    expect((await a.summary()).status).toBe(200);
    expect((await b.summary()).status).toBe(401);
    expect((await aOld.summary()).status).toBe(401);
    expect((await client().login('pw@example.com', PASSWORD)).status).toBe(401);
    expect((await client().login('pw@example.com', 'a much better passphrase')).status).toBe(200);
  });

  it('stint users passwd (setPassword) ends every session; users remove refuses its sessions too', async () => {
    await users.addUser(adb, { email: 'cli@example.com', password: PASSWORD });
    await users.grantSite(adb, 'cli@example.com', SITE_A, 'viewer');
    const c = client();
    await c.login('cli@example.com');
    expect((await users.setPassword(adb, 'cli@example.com', 'another good passphrase')).sessionsEnded).toBe(
      1,
    );
    expect((await c.summary()).status).toBe(401);
    await c.login('cli@example.com', 'another good passphrase');
    expect((await c.summary()).status).toBe(200);
    await users.removeUser(adb, 'cli@example.com');
    expect((await c.summary()).status).toBe(401);
    expect((await c.login('cli@example.com', 'another good passphrase')).status).toBe(401);
  });
});

describe('CSRF', () => {
  it('a state-changing request with the cookie but a foreign or missing Origin is refused, and the session lives on', async () => {
    const c = client();
    await c.login('viewer@example.com');
    const evil = await c.logout({ 'x-stint-csrf': c.csrf, origin: 'https://evil.example' });
    expect(evil.status).toBe(403);
    const none = await c.request('POST', '/auth/logout', { headers: { 'x-stint-csrf': c.csrf, origin: '' } });
    expect(none.status).toBe(403);
    const referer = await c.logout({
      'x-stint-csrf': c.csrf,
      origin: '',
      referer: 'https://evil.example/page',
    } as Record<string, string>);
    expect(referer.status).toBe(403);
    expect((await c.summary()).status).toBe(200);
  });

  it("without the X-Stint-CSRF token (or with another session's) a same-origin logout is refused", async () => {
    const c = client();
    await c.login('viewer@example.com');
    const other = client();
    await other.login('viewer@example.com');
    expect((await c.logout({})).status).toBe(403);
    expect((await c.logout({ 'x-stint-csrf': other.csrf })).status).toBe(403);
    expect((await c.summary()).status).toBe(200);
    expect((await c.logout()).status).toBe(204);
  });

  it('a sign-in posted from another origin is refused (no login CSRF)', async () => {
    const r = await client().login('viewer@example.com', PASSWORD, { origin: 'https://evil.example' });
    expect(r.status).toBe(403);
    expect(r.setCookie).toHaveLength(0);
  });
});

describe('brute force', () => {
  it('failed sign-ins on one account are delayed progressively, then refused with 429 even with the right password', async () => {
    const limits = { now: clock.now, maxAccountFailures: 6, accountDelayAfter: 3, delayBaseMs: 150 };
    const fast = await startApi(db, limits);
    const fast2 = await startApi(db, limits);
    instances.push(fast, fast2);
    await users.addUser(adb, { email: 'target@example.com', password: PASSWORD });
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      const t = performance.now();
      // A new address each time: the account limit must hold however the attacker spreads out.
      expect((await client(fast.base).login('target@example.com', `guess number ${i}`)).status).toBe(401);
      times.push(performance.now() - t);
    }
    // Attempts 4, 5, 6 wait 150, 300, 600 ms before checking.
    expect(times[4]).toBeGreaterThanOrEqual(300);
    expect(times[5]).toBeGreaterThanOrEqual(600);
    const right = await client(fast.base).login('target@example.com', PASSWORD);
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(right.setCookie).toHaveLength(0);
    // The same for an account that does not exist: no way to tell them apart by throttling.
    for (let i = 0; i < 6; i++) await client(fast.base).login('ghost@example.com', `guess ${i}`);
    expect((await client(fast.base).login('ghost@example.com', 'x')).status).toBe(429);
    // The other instance (same database) refuses too: the counts live in ClickHouse.
    expect((await client(fast2.base).login('target@example.com', PASSWORD)).status).toBe(429);
    clock.advance(16 * MIN);
    expect((await client(fast.base).login('target@example.com', PASSWORD)).status).toBe(200);
  });

  it('many failures from one address across accounts are refused per address', async () => {
    const perIp = await startApi(db, { now: clock.now, maxIpFailures: 5, ipDelayAfter: 100 });
    instances.push(perIp);
    const attacker = client(perIp.base);
    for (let i = 0; i < 5; i++)
      expect((await attacker.login(`victim${i}@example.com`, 'guess guess')).status).toBe(401);
    expect((await attacker.login('viewer@example.com', PASSWORD)).status).toBe(429);
    expect((await client(perIp.base).login('viewer@example.com', PASSWORD)).status, 'another address').toBe(
      200,
    );
  });

  it('parallel guesses count before any of them is recorded', async () => {
    const par = await startApi(db, { now: clock.now, maxAccountFailures: 3, accountDelayAfter: 100 });
    instances.push(par);
    await users.addUser(adb, { email: 'parallel@example.com', password: PASSWORD });
    const rs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => client(par.base).login('parallel@example.com', `guess ${i} xx`)),
    );
    expect(rs.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(5);
  });
});

describe('site isolation', () => {
  it('a viewer of site A cannot read site B; an admin reads both', async () => {
    const v = client();
    await v.login('viewer@example.com');
    expect((await v.summary(SITE_A)).status).toBe(200);
    const b = await v.summary(SITE_B);
    expect(b.status).toBe(403);
    expect(JSON.stringify(b.body)).not.toContain('visitors');
    expect((await v.realtime(SITE_B)).status).toBe(403);
    const a = client();
    await a.login('admin@example.com');
    expect((await a.summary(SITE_B)).status).toBe(200);
    expect((await a.request('GET', '/auth/me')).body.sites.map((s: { site: string }) => s.site)).toEqual([
      SITE_A,
      SITE_B,
    ]);
  });

  it('bearer tokens keep working, and win over a cookie', async () => {
    const { createToken } = await import('@stint/infra/registry');
    const t = await createToken(db.client, db.database, { site: SITE_B, scope: 'read' });
    const v = client();
    await v.login('viewer@example.com');
    expect((await v.summary(SITE_B, { authorization: `Bearer ${t.secret}` })).status).toBe(200);
    expect((await v.summary(SITE_A, { authorization: `Bearer ${t.secret}` })).status).toBe(403);
    expect((await v.summary(SITE_A, { authorization: 'Bearer nonsense' })).status).toBe(401);
  });
});

describe('several instances and restarts', () => {
  it('two api instances on the same database share sessions: sign in on one, read and sign out on the other', async () => {
    const second = await startApi(db, { now: clock.now });
    instances.push(second);
    const c = client(api.base);
    await c.login('viewer@example.com');
    const other = c.clone(second.base);
    expect((await other.summary()).status).toBe(200);
    expect((await other.logout()).status).toBe(204);
    expect((await c.summary()).status).toBe(401);
  });

  it('a session survives an api restart', async () => {
    const first = await startApi(db, { now: clock.now });
    const c = client(first.base);
    await c.login('viewer@example.com');
    await first.close();
    const again = await startApi(db, { now: clock.now });
    instances.push(again);
    const after = c.clone(again.base);
    expect((await after.summary()).status).toBe(200);
  });
});

describe('unusual-activity signals', () => {
  it('a sign-in from a new country or browser, many failures, and a session used from two countries are shown to admins', async () => {
    await users.addUser(adb, { email: 'traveller@example.com', password: PASSWORD });
    await users.grantSite(adb, 'traveller@example.com', SITE_A, 'viewer');
    const home = client();
    home.extra = { 'x-test-country': 'DE', 'user-agent': 'Firefox/140' };
    await home.login('traveller@example.com');
    const abroad = client();
    abroad.extra = { 'x-test-country': 'BR', 'user-agent': 'Chrome/150' };
    await abroad.login('traveller@example.com');
    const stolen = home.clone();
    stolen.extra = { 'x-test-country': 'KP', 'user-agent': 'Firefox/140' };
    expect((await stolen.summary()).status).toBe(200);
    for (let i = 0; i < 5; i++) await client().login('traveller@example.com', `guess ${i} guess`);

    const v = client();
    await v.login('viewer@example.com');
    expect((await v.request('GET', '/auth/audit')).status).toBe(403);
    const admin = client();
    await admin.login('admin@example.com');
    const r = await admin.request('GET', '/auth/audit?signals=true&email=traveller@example.com');
    expect(r.status).toBe(200);
    const kinds = (r.body.events as { kind: string; signal: boolean }[]).map((e) => e.kind).sort();
    expect(kinds).toEqual(['many_failures', 'new_country', 'new_user_agent', 'session_country_change']);
    expect(r.body.events.every((e: { signal: boolean }) => e.signal)).toBe(true);
    const all = await admin.request('GET', '/auth/audit?email=traveller@example.com&limit=1000');
    expect(all.body.events.filter((e: { kind: string }) => e.kind === 'login_failed')).toHaveLength(5);
    expect(JSON.stringify(all.body)).not.toContain(PASSWORD);
  });
});

/**
 * Helpers for the sign-in tests: real api instances listening on a port of their own (buildApi +
 * app.listen), a fetch-based client with a one-cookie jar, and a movable clock.
 */
import { addSite } from '@stint/infra/registry';
import type { TestDatabase } from '@stint/infra/testing';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../src/app.ts';
import { type AuthOptions, countryFromHeader } from '../src/auth/index.ts';
import { type AuthDb, clickHouseAuthDb } from '../src/auth/store.ts';
import * as users from '../src/auth/users.ts';

export const SITE_A = 'a.example';
export const SITE_B = 'b.example';
export const PASSWORD = 'correct horse battery';

export class Clock {
  constructor(public t = Date.UTC(2030, 0, 1)) {}
  readonly now = () => this.t;
  advance(ms: number) {
    this.t += ms;
  }
}

export interface Instance {
  app: FastifyInstance;
  base: string;
  close(): Promise<void>;
}

/** One api instance on 127.0.0.1:<random>, country from X-Test-Country, client address from X-Forwarded-For. */
export async function startApi(
  db: TestDatabase,
  auth: AuthOptions,
  staticRoot: string | null = null,
): Promise<Instance> {
  const app = await buildApi({
    client: db.client,
    database: db.database,
    staticRoot,
    trustProxy: true,
    auth: { countryOf: countryFromHeader('x-test-country'), ...auth },
  });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, base, close: () => app.close() };
}

export async function seed(db: TestDatabase): Promise<AuthDb> {
  await addSite(db.client, db.database, { site_id: SITE_A, timezone: 'UTC' });
  await addSite(db.client, db.database, { site_id: SITE_B, timezone: 'UTC' });
  const adb = clickHouseAuthDb(db.client, db.database);
  await users.addUser(adb, { email: 'admin@example.com', password: PASSWORD, admin: true });
  await users.addUser(adb, { email: 'viewer@example.com', password: PASSWORD });
  await users.grantSite(adb, 'viewer@example.com', SITE_A, 'viewer');
  return adb;
}

export interface Res {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies checked field by field
  body: any;
  setCookie: string[];
  headers: Headers;
}

/** A browser-like client: keeps the session cookie it is given, sends Origin on POST. */
export class Client {
  cookie: string | null = null;
  csrf = '';
  constructor(
    public base: string,
    public ip = '198.51.100.7',
    public extra: Record<string, string> = {},
  ) {}

  async request(
    method: string,
    path: string,
    o: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Res> {
    const headers: Record<string, string> = {
      'x-forwarded-for': this.ip,
      ...this.extra,
      ...(o.headers ?? {}),
    };
    if (this.cookie) headers.cookie = this.cookie;
    if (method !== 'GET' && !('origin' in headers)) headers.origin = this.base;
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers,
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    });
    const setCookie = res.headers.getSetCookie();
    for (const c of setCookie) {
      const pair = c.split(';')[0] ?? '';
      const [name, value] = pair.split('=');
      if (name === 'stint_session' || name === '__Host-stint_session') this.cookie = value ? pair : null;
    }
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // not JSON
    }
    return { status: res.status, body, setCookie, headers: res.headers };
  }

  async login(email: string, password = PASSWORD, headers: Record<string, string> = {}): Promise<Res> {
    const r = await this.request('POST', '/auth/login', { body: { email, password }, headers });
    if (r.status === 200) this.csrf = r.body.csrf_token;
    return r;
  }

  logout(headers: Record<string, string> = { 'x-stint-csrf': this.csrf }): Promise<Res> {
    return this.request('POST', '/auth/logout', { headers });
  }

  summary(site = SITE_A, headers: Record<string, string> = {}): Promise<Res> {
    return this.request('GET', `/api/v1/sites/${site}/summary?from=2029-12-01&to=2029-12-31`, { headers });
  }

  realtime(site = SITE_A): Promise<Res> {
    return this.request('GET', `/api/v1/sites/${site}/realtime`);
  }

  /** The same session seen from another client (e.g. another browser tab or a stolen copy). */
  clone(base = this.base): Client {
    const c = new Client(base, this.ip, { ...this.extra });
    c.cookie = this.cookie;
    c.csrf = this.csrf;
    return c;
  }
}

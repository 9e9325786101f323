/**
 * HTTP side of sign-in sessions: the cookie, the CSRF checks, and the routes
 * POST /auth/login, POST /auth/logout, GET /auth/me, POST /auth/password, GET /auth/audit.
 * `siteAccess` lets the /api/v1 routes accept a session cookie where no bearer token is sent.
 */
import fastifyCookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import { z } from 'zod';
import { type ClientInfo, type CountryOf, clientInfo, noCountry } from './client-info.ts';
import { type AuthSettings, DEFAULT_AUTH_SETTINGS } from './config.ts';
import { MAX_PASSWORD_LENGTH } from './password.ts';
import { type AuthService, createAuthService, csrfMatches, csrfToken, type Principal } from './service.ts';
import { type AuthDb, listAudit } from './store.ts';

export interface AuthOptions extends Partial<AuthSettings> {
  /** Clock (epoch ms) for timeouts and failure windows; tests move it. */
  now?: () => number;
  /** Country of a request; default none. main.ts passes the header or GeoIP lookup. */
  countryOf?: CountryOf;
  sleep?: (ms: number) => Promise<void>;
}

export const COOKIE_SECURE = '__Host-stint_session';
export const COOKIE_LOCAL = 'stint_session';
/** Sent by the dashboard's background polling: checked, but not counted as activity. */
export const BACKGROUND_HEADER = 'x-stint-background';
export const CSRF_HEADER = 'x-stint-csrf';

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Secure everywhere except plain http on the loopback (where browsers would drop a Secure cookie). */
export function cookieSecure(req: FastifyRequest): boolean {
  return !(req.protocol === 'http' && LOCAL_HOSTS.has(req.hostname.toLowerCase()));
}

const cookieName = (req: FastifyRequest) => (cookieSecure(req) ? COOKIE_SECURE : COOKIE_LOCAL);

const LoginBody = z.object({
  email: z.string().min(1).max(254),
  password: z.string().min(1).max(MAX_PASSWORD_LENGTH),
});
const PasswordBody = z.object({
  current_password: z.string().min(1).max(MAX_PASSWORD_LENGTH),
  new_password: z.string().min(1).max(MAX_PASSWORD_LENGTH),
});
const AuditQuery = z
  .object({
    signals: z.enum(['true', 'false']).default('false'),
    email: z.string().max(254).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();
const Me = z.object({
  email: z.string(),
  admin: z.boolean(),
  sites: z.array(z.object({ site: z.string(), role: z.string() })),
  csrf_token: z.string(),
  idle_expires_at: z.string(),
  absolute_expires_at: z.string(),
});
const Problem = z.object({ statusCode: z.number(), error: z.string(), message: z.string() });

export interface AuthHandle {
  service: AuthService;
  /** For a request without a bearer token: may its session read `site`? */
  siteAccess(
    req: FastifyRequest,
    reply: FastifyReply,
    site: string,
  ): Promise<'allowed' | 'forbidden' | 'none'>;
}

export async function registerAuth(
  app: FastifyInstance,
  deps: { db: AuthDb; siteIds: () => Promise<string[]>; options?: AuthOptions },
): Promise<AuthHandle> {
  const { now: clock, countryOf: co, sleep, ...overrides } = deps.options ?? {};
  const settings: AuthSettings = { ...DEFAULT_AUTH_SETTINGS, ...overrides };
  const now = clock ?? Date.now;
  const countryOf = co ?? noCountry;
  const service = createAuthService({ db: deps.db, settings, now, ...(sleep ? { sleep } : {}) });
  const resolved = new WeakMap<FastifyRequest, Promise<Principal | null>>();

  await app.register(fastifyCookie);

  const info = (req: FastifyRequest): ClientInfo => clientInfo(req.ip, req.headers, countryOf);
  const sessionIdOf = (req: FastifyRequest): string | undefined => req.cookies[cookieName(req)];

  const setCookie = (req: FastifyRequest, reply: FastifyReply, id: string) => {
    // No Max-Age: a browser-session cookie; the server enforces the idle and absolute timeouts.
    void reply.setCookie(cookieName(req), id, {
      httpOnly: true,
      secure: cookieSecure(req),
      sameSite: 'strict',
      path: '/',
    });
  };
  const clearCookie = (req: FastifyRequest, reply: FastifyReply) => {
    void reply.clearCookie(cookieName(req), {
      httpOnly: true,
      secure: cookieSecure(req),
      sameSite: 'strict',
      path: '/',
    });
  };

  const isBackground = (req: FastifyRequest) =>
    req.headers[BACKGROUND_HEADER] === '1' || req.routeOptions.url === '/api/v1/sites/:site/realtime';

  /** The request's session principal (once per request); re-sets the cookie after a rotation. */
  function principal(req: FastifyRequest, reply: FastifyReply): Promise<Principal | null> {
    let p = resolved.get(req);
    if (!p) {
      const id = sessionIdOf(req);
      p = id
        ? service.authenticate(id, info(req), { background: isBackground(req) }).then((r) => {
            if (r?.rotated) setCookie(req, reply, r.sessionId);
            return r;
          })
        : Promise.resolve(null);
      resolved.set(req, p);
    }
    return p;
  }

  const send = (reply: FastifyReply, code: number, error: string, message: string) =>
    reply.code(code).send({ statusCode: code, error, message });

  /**
   * CSRF, layer 1 (layer 0 is SameSite=Strict): a state-changing request that carries the session
   * cookie, and every sign-in, must come from the api's own origin (or AUTH_ORIGINS), by Origin or,
   * when a browser sends none, Referer. Neither present → refused.
   */
  app.addHook('onRequest', async (req, reply) => {
    if (SAFE_METHODS.has(req.method)) return;
    if (!sessionIdOf(req) && !req.url.startsWith('/auth/')) return;
    const own = `${req.protocol}://${req.host}`;
    let origin = req.headers.origin;
    if (origin === undefined && req.headers.referer) {
      try {
        origin = new URL(req.headers.referer).origin;
      } catch {
        origin = 'invalid';
      }
    }
    if (origin === undefined) return send(reply, 403, 'Forbidden', 'missing Origin header');
    if (origin !== own && !settings.allowedOrigins.includes(origin)) {
      return send(reply, 403, 'Forbidden', `cross-site request refused (origin ${origin})`);
    }
  });

  /** CSRF, layer 2: the session's token in the X-Stint-CSRF header (routes that need a session). */
  const csrfOk = (req: FastifyRequest, p: Principal) => {
    const token = req.headers[CSRF_HEADER];
    return typeof token === 'string' && csrfMatches(p.sessionId, token) ? true : csrfRotated(req, p, token);
  };
  // A request sent just before a rotation carries the old session's token.
  const csrfRotated = (req: FastifyRequest, p: Principal, token: unknown) => {
    const old = sessionIdOf(req);
    return p.rotated && typeof token === 'string' && old !== undefined && csrfMatches(old, token);
  };

  const me = async (p: Principal) => ({
    email: p.user.email,
    admin: p.user.is_admin,
    sites: p.user.is_admin
      ? (await deps.siteIds()).map((site) => ({ site, role: 'owner' }))
      : p.grants.map((g) => ({ site: g.site, role: g.role })),
    csrf_token: csrfToken(p.sessionId),
    idle_expires_at: new Date(p.idleExpiresMs).toISOString(),
    absolute_expires_at: new Date(p.absoluteExpiresMs).toISOString(),
  });

  const errors = { 400: Problem, 401: Problem, 403: Problem, 429: Problem };
  const schema = (s: FastifySchema): FastifySchema => ({ tags: ['auth'], ...s });

  app.post(
    '/auth/login',
    {
      schema: schema({
        summary: 'Sign in with e-mail and password; sets the session cookie',
        body: LoginBody,
        response: { 200: Me, ...errors },
      }),
    },
    async (req, reply) => {
      const body = req.body as z.infer<typeof LoginBody>;
      const r = await service.signIn(body.email, body.password, info(req), sessionIdOf(req));
      if (!r.ok && r.status === 429) {
        void reply.header('retry-after', String(r.retryAfterS));
        return send(reply, 429, 'Too Many Requests', 'too many failed sign-ins; try again later');
      }
      if (!r.ok) return send(reply, 401, 'Unauthorized', 'wrong e-mail or password');
      setCookie(req, reply, r.principal.sessionId);
      return reply.send(await me(r.principal));
    },
  );

  app.post(
    '/auth/logout',
    { schema: schema({ summary: 'End this sign-in session (server-side) and clear the cookie' }) },
    async (req, reply) => {
      const p = await principal(req, reply);
      if (p && !csrfOk(req, p))
        return send(reply, 403, 'Forbidden', `missing or wrong ${CSRF_HEADER} header`);
      if (p) await service.signOut(p.sessionId, info(req));
      clearCookie(req, reply);
      return reply.code(204).send();
    },
  );

  app.get(
    '/auth/me',
    {
      schema: schema({
        summary: 'The signed-in account, its sites and the CSRF token',
        response: { 200: Me, 401: Problem },
      }),
    },
    async (req, reply) => {
      const p = await principal(req, reply);
      if (!p) return send(reply, 401, 'Unauthorized', 'not signed in');
      return reply.send(await me(p));
    },
  );

  app.post(
    '/auth/password',
    {
      schema: schema({
        summary: 'Change the password; ends every other session and rotates this one',
        body: PasswordBody,
        response: { 200: Me, ...errors },
      }),
    },
    async (req, reply) => {
      const p = await principal(req, reply);
      if (!p) return send(reply, 401, 'Unauthorized', 'not signed in');
      if (!csrfOk(req, p)) return send(reply, 403, 'Forbidden', `missing or wrong ${CSRF_HEADER} header`);
      const body = req.body as z.infer<typeof PasswordBody>;
      const r = await service.changePassword(p, body.current_password, body.new_password, info(req));
      if (r.ok) {
        setCookie(req, reply, r.principal.sessionId);
        return reply.send(await me(r.principal));
      }
      if (r.status === 400) return send(reply, 400, 'Bad Request', r.message);
      if (r.status === 429) {
        void reply.header('retry-after', String(r.retryAfterS));
        return send(reply, 429, 'Too Many Requests', 'too many failed attempts; try again later');
      }
      return send(reply, 401, 'Unauthorized', 'wrong current password');
    },
  );

  app.get(
    '/auth/audit',
    {
      schema: schema({
        summary: 'Sign-in events and unusual-activity signals (admins only)',
        querystring: AuditQuery,
      }),
    },
    async (req, reply) => {
      const p = await principal(req, reply);
      if (!p) return send(reply, 401, 'Unauthorized', 'not signed in');
      if (!p.user.is_admin) return send(reply, 403, 'Forbidden', 'admins only');
      const q = req.query as z.infer<typeof AuditQuery>;
      const events = await listAudit(deps.db, {
        signalsOnly: q.signals === 'true',
        limit: q.limit,
        ...(q.email !== undefined ? { email: q.email.trim().toLowerCase() } : {}),
      });
      return reply.send({
        events: events.map(({ ip_hash: _h, at_ms, ...e }) => ({ at: new Date(at_ms).toISOString(), ...e })),
      });
    },
  );

  return {
    service,
    async siteAccess(req, reply, site) {
      const p = await principal(req, reply);
      if (!p) return 'none';
      if (p.user.is_admin || p.grants.some((g) => g.site === site)) return 'allowed';
      return 'forbidden';
    },
  };
}

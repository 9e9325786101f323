/**
 * The HTTP api: `buildApi(deps)` returns a Fastify app (tests call `inject`, main.ts listens).
 * Routes: /api/v1/sites/:site/{summary,timeseries,breakdown,duration,frequency,realtime}, /docs
 * (OpenAPI from the zod schemas), /healthz, /readyz, and the dashboard's static files at `/`.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { type ClickHouseClient, ping, queryRows } from '@stint/infra/clickhouse';
import { ALL_SITES, getSite, listSites, verifyToken } from '@stint/infra/registry';
import { healthRoutes } from '@stint/infra/service';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifySchema,
  type FastifyServerOptions,
} from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { z } from 'zod';
// [auth] dashboard sign-in sessions (issue 7): see api/src/auth and api/SECURITY.md.
import { type AuthHandle, type AuthOptions, clickHouseAuthDb, registerAuth } from './auth/index.ts';
import { listParts } from './partitions.ts';
import type { Filters, ReportParams } from './queries/common.ts';
import { FILTER_KEYS } from './queries/common.ts';
import { bucketCount, type Interval } from './queries/timeseries.ts';
import { ReportCache, type ReportCacheOptions, runReport } from './report-cache.ts';
import {
  breakdownReport,
  durationReport,
  frequencyReport,
  type Runner,
  realtimeReport,
  summaryReport,
  timeseriesReport,
} from './reports.ts';
import {
  BreakdownQuery,
  BreakdownResponse,
  DurationResponse,
  ErrorResponse,
  FrequencyQuery,
  FrequencyResponse,
  RangeQuery,
  RealtimeQuery,
  RealtimeResponse,
  SiteParam,
  SummaryResponse,
  TimeseriesQuery,
  TimeseriesResponse,
} from './schemas.ts';
import { parseTimeInput, type ResolvedRange, resolveRange } from './time.ts';

export interface ApiDeps {
  /** Any client; every name is qualified with `database`. */
  client: ClickHouseClient;
  database: string;
  /** The ClickHouse cluster `database` was migrated for (default STINT_CLICKHOUSE_CLUSTER; '' none). */
  clickhouseCluster?: string;
  logger?: FastifyServerOptions['logger'];
  /** The clock (epoch ms): default ranges and realtime. Tests pin it. */
  now?: () => number;
  /**
   * Folder of the dashboard's static files served at `/`. Default: `dashboards/dist`, else
   * `dashboards/public`, of this repository; nothing is served when neither exists (or when null).
   */
  staticRoot?: string | null;
  /** [auth] Sign-in sessions (api/src/auth): options, or null to serve bearer tokens only. */
  auth?: AuthOptions | null;
  /**
   * Results of report queries kept in the process while the data they read is unchanged
   * (src/report-cache.ts): options, or null for none. Default on.
   */
  reportCache?: ReportCacheOptions | null;
  /**
   * Skip FINAL in months whose only part is merged, checked against a second listing of the parts
   * after each report (src/partitions.ts). Default on.
   */
  skipFinalWhereMerged?: boolean;
  /** [auth] Fastify's trustProxy (client address, protocol and host from X-Forwarded-*). Default off. */
  trustProxy?: FastifyServerOptions['trustProxy'];
}

/** A bad request that names the parameter at fault. */
class BadRequest extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const MAX_RANGE_DAYS = 3660;
const MAX_BUCKETS = 2000;

export function defaultStaticRoot(): string | null {
  for (const dir of ['dist', 'public']) {
    const path = fileURLToPath(new URL(`../../dashboards/${dir}/`, import.meta.url));
    if (existsSync(path)) return path;
  }
  return null;
}

/** The parameter a validation problem is about; for unknown parameters, the first unknown name. */
function fieldOf(v: { instancePath: string; params: Record<string, unknown> }): string {
  const path = v.instancePath.replace(/^\//, '').replaceAll('/', '.');
  if (path) return path;
  const keys = v.params.keys;
  return Array.isArray(keys) ? String(keys[0]) : '';
}

interface SiteContext {
  site: string;
  timezone: string;
}

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const { client, database } = deps;
  const now = deps.now ?? Date.now;
  const app = Fastify({
    logger: deps.logger ?? false,
    ...(deps.trustProxy !== undefined ? { trustProxy: deps.trustProxy } : {}), // [auth]
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  const direct: Runner = (q) => queryRows<Record<string, unknown>>(client, q);
  const reportRun = {
    database,
    direct,
    list: () =>
      listParts(client, database, {
        ...(deps.reportCache?.settleSeconds === undefined ? {} : { settleS: deps.reportCache.settleSeconds }),
        ...(deps.clickhouseCluster === undefined ? {} : { cluster: deps.clickhouseCluster }),
      }),
    cache: deps.reportCache === null ? null : new ReportCache(deps.reportCache),
    skipFinal: deps.skipFinalWhereMerged !== false,
  };

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      const problems = err.validation.map((v) => ({ field: fieldOf(v), message: v.message }));
      const message = problems
        .map((p) => `${err.validationContext ?? 'request'}${p.field ? ` ${p.field}` : ''}: ${p.message}`)
        .join('; ');
      return reply
        .code(400)
        .send({ statusCode: 400, error: 'Bad Request', message, field: problems[0]?.field ?? '' });
    }
    if (err instanceof BadRequest) {
      return reply
        .code(400)
        .send({ statusCode: 400, error: 'Bad Request', message: err.message, field: err.field });
    }
    const status = err.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.code(status).send({ statusCode: status, error: err.name, message: err.message });
    }
    req.log.error({ err }, 'request failed');
    return reply
      .code(500)
      .send({ statusCode: 500, error: 'Internal Server Error', message: 'internal error' });
  });

  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'Stint api',
        version: '1',
        description:
          'Session duration, frequency and engagement reports per site. Metric definitions: api/METRICS.md.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          // [auth] the dashboard's sign-in session (name without __Host- on plain-http localhost)
          session: { type: 'apiKey', in: 'cookie', name: '__Host-stint_session' },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  healthRoutes(app, { clickhouse: () => ping(client) });

  // [auth] /auth/* routes and cookie sessions as an alternative to bearer tokens on /api/v1.
  const auth: AuthHandle | null =
    deps.auth === null
      ? null
      : await registerAuth(app, {
          db: clickHouseAuthDb(client, database),
          siteIds: async () => (await listSites(client, database)).map((s) => s.site_id),
          options: deps.auth ?? {},
        });

  /** Bearer token with scope `read` for this site (or all sites), then the site's settings. */
  async function authorize(
    req: FastifyRequest,
    reply: FastifyReply,
    site: string,
  ): Promise<SiteContext | null> {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    const deny = (code: number, error: string, message: string) => {
      void reply.code(code).send({ statusCode: code, error, message });
      return null;
    };
    if (!m?.[1]) {
      // [auth] no bearer token: a sign-in session may read the sites granted to its account.
      const access = auth && !header ? await auth.siteAccess(req, reply, site) : 'none';
      if (access === 'forbidden') return deny(403, 'Forbidden', 'this account may not read this site');
      if (access === 'none') {
        return deny(401, 'Unauthorized', 'missing Authorization: Bearer <token> (or a sign-in session)');
      }
    } else {
      const token = await verifyToken(client, database, m[1], { scope: 'read' });
      if (!token) return deny(401, 'Unauthorized', 'unknown or revoked token, or not a read token');
      if (token.site_id !== ALL_SITES && token.site_id !== site) {
        return deny(403, 'Forbidden', 'this token may not read this site');
      }
    }
    const settings = await getSite(client, database, site);
    if (!settings) return deny(404, 'Not Found', `unknown site ${site}`);
    return { site, timezone: settings.timezone };
  }

  function range(q: RangeQuery, tz: string): ResolvedRange & { previous: ResolvedRange } {
    const from = q.from === undefined ? undefined : (parseTimeInput(q.from) ?? undefined);
    const to = q.to === undefined ? undefined : (parseTimeInput(q.to) ?? undefined);
    const r = resolveRange({ from, to }, tz, now());
    if (r.to.getTime() <= r.from.getTime()) throw new BadRequest('to', 'to must be after from');
    if (r.to.getTime() - r.from.getTime() > MAX_RANGE_DAYS * 86_400_000) {
      throw new BadRequest('from', `the range may span at most ${MAX_RANGE_DAYS} days`);
    }
    if (r.previous.from.getTime() < Date.UTC(1971, 0, 1)) throw new BadRequest('from', 'from is too early');
    return r;
  }

  function filtersOf(q: Partial<Record<(typeof FILTER_KEYS)[number], string | undefined>>): Filters {
    const out: Filters = {};
    for (const k of FILTER_KEYS) {
      const v = q[k];
      if (v !== undefined) out[k] = v;
    }
    return out;
  }

  /** Runs a ranged report for the period and, with compare=previous, the period before. */
  async function ranged<T>(
    ctx: SiteContext,
    q: RangeQuery,
    report: (run: Runner, p: ReportParams) => Promise<T>,
    check?: (r: ResolvedRange) => void,
  ) {
    const r = range(q, ctx.timezone);
    check?.(r);
    const base = { database, site: ctx.site, timezone: ctx.timezone, filters: filtersOf(q) };
    const iso = (x: ResolvedRange) => ({ from: x.from.toISOString(), to: x.to.toISOString() });
    const wantPrevious = q.compare === 'previous';
    const one = (range: ResolvedRange) =>
      runReport(
        reportRun,
        (run, clean) => report(run, { ...base, from: range.from, to: range.to, ...(clean ? { clean } : {}) }),
        // The ranged reports read sessions started before `to` and the rollups for visitors first
        // seen before it (queries naming events_raw are fingerprinted whole, see runReport).
        range.to,
      );
    const [data, previous] = await Promise.all([
      one(r),
      wantPrevious ? one(r.previous) : Promise.resolve(undefined),
    ]);
    return {
      site: ctx.site,
      timezone: ctx.timezone,
      range: iso(r),
      data,
      ...(wantPrevious ? { previous: { range: iso(r.previous), data: previous as T } } : {}),
    };
  }

  const checkBuckets = (interval: Interval) => (r: ResolvedRange) => {
    if (bucketCount(r, interval) > MAX_BUCKETS) {
      throw new BadRequest(
        'interval',
        `interval=${interval} gives too many buckets for this range (at most ${MAX_BUCKETS}); use a longer interval`,
      );
    }
  };

  const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse };
  const route = <Q extends z.ZodType, R extends z.ZodType>(
    name: string,
    summary: string,
    querystring: Q,
    response: R,
    handler: (ctx: SiteContext, q: z.infer<Q>) => Promise<z.infer<R>>,
  ) => {
    const schema: FastifySchema = {
      summary,
      params: SiteParam,
      querystring,
      response: { 200: response, ...errors },
    };
    app.get(`/api/v1/sites/:site/${name}`, { schema }, async (req, reply) => {
      const { site } = req.params as z.infer<typeof SiteParam>;
      const ctx = await authorize(req, reply, site);
      if (!ctx) return reply;
      return reply.send(await handler(ctx, req.query as z.infer<Q>));
    });
  };

  route('summary', 'Every session metric over the range', RangeQuery, SummaryResponse, (ctx, q) =>
    ranged(ctx, q, (run, p) => summaryReport(run, p)),
  );
  route(
    'timeseries',
    'Session metrics per hour, day, week or month',
    TimeseriesQuery,
    TimeseriesResponse,
    (ctx, q) => ranged(ctx, q, (run, p) => timeseriesReport(run, p, q.interval), checkBuckets(q.interval)),
  );
  route('breakdown', 'Top values of a dimension', BreakdownQuery, BreakdownResponse, (ctx, q) =>
    ranged(ctx, q, (run, p) => breakdownReport(run, p, q.by, q.limit)),
  );
  route('duration', 'Session duration histogram, median and p90', RangeQuery, DurationResponse, (ctx, q) =>
    ranged(ctx, q, (run, p) => durationReport(run, p)),
  );
  route(
    'frequency',
    'Sessions per visitor, days since the previous session, new vs returning over time',
    FrequencyQuery,
    FrequencyResponse,
    (ctx, q) => ranged(ctx, q, (run, p) => frequencyReport(run, p, q.interval), checkBuckets(q.interval)),
  );
  route(
    'realtime',
    'Visitors, sessions and top pages of the last 5 minutes',
    RealtimeQuery,
    RealtimeResponse,
    async (ctx, q) => ({
      site: ctx.site,
      timezone: ctx.timezone,
      // Realtime's window moves with the clock: its SQL differs on every request, nothing to reuse.
      data: await realtimeReport(
        direct,
        { database, site: ctx.site, timezone: ctx.timezone, filters: filtersOf(q), now: new Date(now()) },
        q.limit,
      ),
    }),
  );

  const root = deps.staticRoot === undefined ? defaultStaticRoot() : deps.staticRoot;
  if (root !== null && existsSync(root)) {
    await app.register(fastifyStatic, { root, prefix: '/', index: ['index.html'] });
  }
  return app;
}

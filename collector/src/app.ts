/**
 * The collector's HTTP app. `buildCollector(deps)` takes everything it talks to, so tests build it
 * with a real sink and registry and call `inject()`; main.ts wires config, listen and signals.
 *
 * A request's events are validated as a whole, enriched, handed to the sink, and answered 2xx only
 * once Kafka acknowledged them. Nothing of a rejected request reaches the sink. The client IP is used
 * by enrichment and then forgotten: it is never logged (request logging is off, error logs carry no
 * request) and never part of the Kafka payload.
 */
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import { healthRoutes } from '@stint/infra/service';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { z } from 'zod';
import { BrowserEventSchema, LIMITS, PAGEVIEW, ServerBatchSchema } from './contract/event.ts';
import type { GeoLookup } from './enrich/geo.ts';
import type { SaltStore } from './enrich/salt-store.ts';
import type { UserAgentInfo } from './enrich/user-agent.ts';
import {
  type EventSink,
  SinkClosedError,
  SinkFullError,
  type SinkMessage,
  SinkUnavailableError,
} from './kafka-sink.ts';
import { type CollectorMetrics, createMetrics } from './metrics.ts';
import { type EnrichDeps, enrich, type IncomingEvent } from './pipeline.ts';
import { LookupUnavailableError, type SiteExists } from './site-cache.ts';
import { createSnippetCache, defaultSnippetBuilder, type SnippetBuilder } from './snippet.ts';
import type { StoredEventIds } from './stored-events.ts';
import {
  type ApiError,
  checkPageUrl,
  checkTimestamp,
  fail,
  pageUrlError,
  parsePageUrl,
  parseWith,
} from './validate.ts';

export interface CollectorConfig {
  /** Per-IP requests per minute on the public endpoints (/api/event, /e.gif). */
  rateLimitPerMinute: number;
  /** Fastify's trustProxy: true, or the addresses/CIDRs of trusted proxies (comma-separated). */
  trustProxy: boolean | string;
  /** Batch `ts`: how far in the future (clock skew) and how far in the past it may lie (POST /api/events; imports: the site's setting). */
  maxFutureSkewMs: number;
  maxEventAgeMs: number;
  /** Seconds in Retry-After on 503. */
  retryAfterSeconds: number;
  /** Drop bots and headless browsers. */
  filterBots: boolean;
}

export const DEFAULT_CONFIG: CollectorConfig = {
  rateLimitPerMinute: 600,
  trustProxy: false,
  maxFutureSkewMs: 60_000,
  maxEventAgeMs: 730 * 86_400_000,
  retryAfterSeconds: 2,
  filterBots: true,
};

export interface CollectorDeps {
  sink: EventSink;
  /** Where POST /api/import goes (the imports topic); default: `sink`. */
  importSink?: EventSink;
  /** The site's lower bound on imported event times, in ms before now; null: none (the default). */
  importMaxAgeMs?: (site: string) => Promise<number | null>;
  /** The ids of an import batch already stored (see stored-events.ts); default: none are. */
  storedEventIds?: StoredEventIds;
  /** Is the site registered? (cached; see site-cache.ts) */
  siteExists: SiteExists;
  /** Is this bearer secret an ingest token of the site? */
  authorizeIngest: (token: string, site: string) => Promise<boolean>;
  geo: GeoLookup;
  userAgent: (ua: string) => UserAgentInfo;
  salts: SaltStore;
  config?: Partial<CollectorConfig>;
  logger?: FastifyBaseLogger;
  snippet?: SnippetBuilder;
  metrics?: CollectorMetrics;
  /** What /metrics serves instead of `metrics.registry` (cluster workers: the aggregate of all). */
  metricsText?: () => Promise<string>;
}

const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

const PixelQuerySchema = z.object({
  site: z.string(),
  name: z.string().optional(),
  url: z.string().optional(),
  referrer: z.string().optional(),
  visitor_id: z.string().optional(),
});

interface LiveInput {
  body: z.infer<typeof BrowserEventSchema>;
  url: URL;
}

class HttpError extends Error {
  constructor(readonly apiError: ApiError) {
    super(apiError.message);
  }
}

export async function buildCollector(deps: CollectorDeps): Promise<FastifyInstance> {
  const config: CollectorConfig = { ...DEFAULT_CONFIG, ...deps.config };
  const metrics = deps.metrics ?? createMetrics(() => deps.sink.depth());
  const snippet = createSnippetCache(deps.snippet ?? defaultSnippetBuilder);
  const enrichDeps: EnrichDeps = {
    geo: deps.geo,
    userAgent: deps.userAgent,
    salts: deps.salts,
    partitions: () => deps.sink.partitions(),
    filterBots: config.filterBots,
  };
  const importSink = deps.importSink ?? deps.sink;
  // A cookieless visitor's stable partition is computed against the topic its events go to.
  const importEnrichDeps: EnrichDeps = { ...enrichDeps, partitions: () => importSink.partitions() };
  const importMaxAgeMs = deps.importMaxAgeMs ?? (async () => null);

  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    // Per-request logs would carry the client address and cost more than the request itself.
    logController: new LogController({ disableRequestLogging: true }),
    // No per-request child logger either (a pino child per request is measurable, and nothing logs
    // with request bindings: errors are logged on app.log without the request).
    childLoggerFactory: (logger) => logger,
    trustProxy: config.trustProxy,
    bodyLimit: LIMITS.bodyBytes,
    routerOptions: { maxParamLength: 200 },
  });

  // sendBeacon posts text/plain (no CORS preflight); some clients send no type at all. All are JSON,
  // parsed by Fastify's own parser, which refuses __proto__ and constructor keys.
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, jsonParser);
  app.addContentTypeParser('*', { parseAs: 'string' }, jsonParser);

  await app.register(cors, { origin: true, methods: ['GET', 'POST'], maxAge: 86_400 });
  await app.register(rateLimit, {
    global: false,
    keyGenerator: (req) => req.ip,
    errorResponseBuilder: (_req, ctx) => ({
      statusCode: 429,
      error: 'rate_limited',
      message: `rate limit of ${ctx.max} requests per minute exceeded; retry in ${Math.ceil(ctx.ttl / 1000)} s`,
    }),
  });
  const limited = { rateLimit: { max: config.rateLimitPerMinute, timeWindow: 60_000 } };

  const reject = (reply: FastifyReply, e: ApiError) => {
    metrics.rejected.inc({ reason: e.error });
    if (e.status === 503) reply.header('retry-after', String(config.retryAfterSeconds));
    return reply
      .code(e.status)
      .send({ error: e.error, message: e.message, ...(e.field ? { field: e.field } : {}) });
  };

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    if (err instanceof HttpError) return reject(reply, err.apiError);
    if (err instanceof LookupUnavailableError) {
      return reject(reply, {
        status: 503,
        error: 'registry_unavailable',
        message: 'cannot check the site or token right now; retry later',
      });
    }
    const status = err.statusCode ?? 500;
    if (status === 429) return reject(reply, { status, error: 'rate_limited', message: err.message });
    if (status === 413) {
      return reject(reply, {
        status,
        error: 'body_too_large',
        message: 'request body is larger than allowed',
      });
    }
    if (status === 415)
      return reject(reply, { status, error: 'unsupported_media_type', message: err.message });
    if (status >= 400 && status < 500) {
      const isJson = err.code?.includes('JSON') === true || err instanceof SyntaxError;
      return reject(reply, {
        status: 400,
        error: isJson || req.method === 'POST' ? 'invalid_json' : 'bad_request',
        message: isJson ? `body is not valid JSON: ${err.message}` : err.message,
      });
    }
    // No request object in the log: it would carry the client address.
    app.log.error({ err, route: req.routeOptions.url }, 'request failed');
    return reject(reply, { status: 500, error: 'internal', message: 'internal error' });
  });
  app.setNotFoundHandler((_req, reply) =>
    reply.code(404).send({ error: 'not_found', message: 'no such endpoint' }),
  );

  // A callback hook, not an async one: no promise per request. The labelled counter is looked up
  // once per route and status (prom-client hashes the label object on every inc otherwise).
  const requestCounters = new Map<string, { inc(): void }>();
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unknown';
    const key = `${reply.statusCode} ${route}`;
    let counter = requestCounters.get(key);
    if (counter === undefined) {
      counter = metrics.requests.labels({ route, status: String(reply.statusCode) });
      requestCounters.set(key, counter);
    }
    counter.inc();
    done();
  });

  const requireSite = async (site: string, field = 'site') => {
    if (!(await deps.siteExists(site))) {
      throw new HttpError({
        status: 400,
        error: 'unknown_site',
        message: `${field}: site is not registered`,
        field,
      });
    }
  };

  const acceptedCounters = new Map<string, { inc(n: number): void }>();
  const acceptedCounter = (endpoint: string) => {
    let counter = acceptedCounters.get(endpoint);
    if (counter === undefined) {
      counter = metrics.accepted.labels({ endpoint });
      acceptedCounters.set(endpoint, counter);
    }
    return counter;
  };

  /** Enrich, publish, wait for the ack. Returns how many were dropped as bots. */
  const publish = async (
    events: IncomingEvent[],
    endpoint: string,
    sink: EventSink = deps.sink,
  ): Promise<{ accepted: number; dropped: number }> => {
    const messages: SinkMessage[] = [];
    let dropped = 0;
    const enrichWith = sink === deps.sink ? enrichDeps : importEnrichDeps;
    for (const e of events) {
      const r = enrich(e, enrichWith);
      if (r.kind === 'drop') {
        dropped++;
        metrics.dropped.inc({ reason: r.reason });
      } else messages.push(r.message);
    }
    try {
      await sink.publish(messages);
    } catch (err) {
      if (err instanceof SinkFullError) {
        throw new HttpError({ status: 503, error: 'buffer_full', message: 'collector is busy; retry later' });
      }
      if (err instanceof SinkClosedError) {
        throw new HttpError({ status: 503, error: 'shutting_down', message: err.message });
      }
      if (err instanceof SinkUnavailableError && err.reason === 'not_enough_replicas') {
        throw new HttpError({
          status: 503,
          error: 'kafka_not_enough_replicas',
          message:
            'events could not be stored durably: Kafka has fewer in-sync replicas than min.insync.replicas (brokers down); retry later',
        });
      }
      throw new HttpError({
        status: 503,
        error: 'kafka_unavailable',
        message: 'events could not be stored; retry later',
      });
    }
    acceptedCounter(endpoint).inc(messages.length);
    return { accepted: messages.length, dropped };
  };

  const userAgentOf = (req: FastifyRequest) => (req.headers['user-agent'] ?? '').slice(0, LIMITS.userAgent);

  const liveEvent = (req: FastifyRequest, { body, url }: LiveInput): IncomingEvent => {
    const now = Date.now();
    return {
      site: body.site,
      name: body.name,
      url: body.url,
      parsedUrl: url,
      referrer: body.referrer,
      visitor_id: body.visitor_id,
      engaged_ms: body.engaged_ms,
      scroll_depth: body.scroll_depth,
      props: body.props,
      ts: now,
      receivedAt: now,
      historical: false,
      ip: req.ip,
      userAgent: userAgentOf(req),
      emptyUserAgentIsBot: true,
    };
  };

  const checkLive = (input: unknown): LiveInput => {
    const parsed = parseWith(BrowserEventSchema, input);
    if (!parsed.ok) throw new HttpError(parsed.error);
    const url = checkPageUrl(parsed.value.url, 'url');
    if (!url.ok) throw new HttpError(url.error);
    return { body: parsed.value, url: url.value };
  };

  app.post('/api/event', { config: limited, bodyLimit: LIMITS.bodyBytes }, async (req, reply) => {
    const live = checkLive(req.body);
    await requireSite(live.body.site);
    const r = await publish([liveEvent(req, live)], 'event');
    return reply.code(202).send(r);
  });

  app.get('/e.gif', { config: limited }, async (req, reply) => {
    const q = parseWith(PixelQuerySchema, req.query);
    if (!q.ok) throw new HttpError(q.error);
    // Without scripts the page's own URL is only known from the Referer of the image request.
    const candidate = {
      site: q.value.site,
      name: q.value.name ?? PAGEVIEW,
      url: q.value.url ?? req.headers.referer ?? '',
      ...(q.value.referrer !== undefined ? { referrer: q.value.referrer } : {}),
      ...(q.value.visitor_id !== undefined ? { visitor_id: q.value.visitor_id } : {}),
    };
    const live = checkLive(candidate);
    await requireSite(live.body.site);
    await publish([liveEvent(req, live)], 'pixel');
    return reply
      .code(200)
      .header('content-type', 'image/gif')
      .header('cache-control', 'no-store, max-age=0')
      .send(PIXEL);
  });

  /**
   * POST /api/events (server-side senders) and POST /api/import (log imports and backfills): the same
   * body, token-authenticated. They differ in the lower bound on `ts` (the collector's for events, the
   * site's own for imports, none by default) and in the topic (imports have their own, see the contract).
   */
  const batchRoute = (endpoint: 'batch' | 'import') => async (req: FastifyRequest, reply: FastifyReply) => {
    const auth = req.headers.authorization ?? '';
    const token = /^Bearer\s+(\S+)$/i.exec(auth)?.[1];
    if (token === undefined) {
      throw new HttpError({
        status: 401,
        error: 'unauthorized',
        message: 'an ingest token is required (Authorization: Bearer …)',
      });
    }
    const parsed = parseWith(ServerBatchSchema, req.body);
    if (!parsed.ok) throw new HttpError(parsed.error);
    const batch = parsed.value;
    if (!(await deps.authorizeIngest(token, batch.site))) {
      throw new HttpError({
        status: 401,
        error: 'unauthorized',
        message: `token is not an ingest token of ${batch.site}`,
      });
    }
    await requireSite(batch.site);
    const now = Date.now();
    const events: IncomingEvent[] = [];
    const maxAgeMs =
      endpoint === 'import'
        ? ((await importMaxAgeMs(batch.site)) ?? Number.POSITIVE_INFINITY)
        : config.maxEventAgeMs;
    const tsLimits = { maxFutureMs: config.maxFutureSkewMs, maxAgeMs };
    // Per-event work here runs up to 1,000 times a request: field paths are only built for an error,
    // and events are built field by field (object rest/spread is a slow path in V8).
    for (let i = 0; i < batch.events.length; i++) {
      const e = batch.events[i] as (typeof batch.events)[number];
      if (e.site !== batch.site) {
        throw new HttpError({
          status: 400,
          error: 'invalid_field',
          message: `events.${i}.site: must equal the batch's site`,
          field: `events.${i}.site`,
        });
      }
      const url = parsePageUrl(e.url);
      if (url === null) throw new HttpError(pageUrlError(`events.${i}.url`));
      if (e.visitor_id === undefined && e.ip === undefined) {
        throw new HttpError({
          status: 400,
          error: 'invalid_field',
          message: `events.${i}.ip: an event needs a visitor_id or the visitor's ip`,
          field: `events.${i}.ip`,
        });
      }
      let ts = now;
      if (e.ts !== undefined) {
        const checked = checkTimestamp(e.ts, now, tsLimits, `events.${i}.ts`);
        if (!checked.ok) throw new HttpError(checked.error);
        ts = checked.value;
      }
      events.push({
        site: e.site,
        name: e.name,
        url: e.url,
        parsedUrl: url,
        referrer: e.referrer,
        visitor_id: e.visitor_id,
        engaged_ms: e.engaged_ms,
        scroll_depth: e.scroll_depth,
        props: e.props,
        event_id: e.event_id,
        ts,
        receivedAt: now,
        historical: e.ts !== undefined,
        ip: e.ip ?? '',
        userAgent: e.user_agent ?? '',
        emptyUserAgentIsBot: false,
      });
    }
    if (endpoint === 'batch') return reply.code(202).send(await publish(events, endpoint));
    // An import sent again (a restarted or repeated run) carries the ids it had: those already stored
    // are left out, so the sessionizer never sessionizes a visit it has let go of a second time.
    const fresh = await withoutStored(batch.site, events);
    const r = await publish(fresh, endpoint, importSink);
    return reply.code(202).send({ ...r, already_stored: events.length - fresh.length });
  };

  const withoutStored = async (site: string, events: IncomingEvent[]): Promise<IncomingEvent[]> => {
    const keyed: { event_id: string; ts: number }[] = [];
    for (const e of events) if (e.event_id !== undefined) keyed.push({ event_id: e.event_id, ts: e.ts });
    if (keyed.length === 0 || !deps.storedEventIds) return events;
    let stored: Set<string>;
    try {
      stored = await deps.storedEventIds(site, keyed);
    } catch (err) {
      deps.logger?.warn({ err }, 'import: the lookup of stored events failed');
      throw new HttpError({
        status: 503,
        error: 'clickhouse_unavailable',
        message: 'cannot check which events are already stored; retry later',
      });
    }
    if (stored.size === 0) return events;
    metrics.dropped.inc({ reason: 'already_stored' }, stored.size);
    return events.filter((e) => e.event_id === undefined || !stored.has(e.event_id));
  };
  app.post('/api/events', { bodyLimit: LIMITS.batchBodyBytes }, batchRoute('batch'));
  app.post('/api/import', { bodyLimit: LIMITS.batchBodyBytes }, batchRoute('import'));

  app.get('/stint.js', async (req, reply) => {
    let built: Awaited<ReturnType<typeof snippet>>;
    try {
      built = await snippet();
    } catch (err) {
      return reject(reply, { status: 503, error: 'snippet_unavailable', message: (err as Error).message });
    }
    reply
      .header('content-type', 'application/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=3600')
      .header('etag', built.etag)
      .header('vary', 'accept-encoding');
    if (req.headers['if-none-match'] === built.etag) return reply.code(304).send();
    if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) {
      return reply.header('content-encoding', 'gzip').send(built.gzip);
    }
    return reply.send(built.body);
  });

  healthRoutes(app, { kafka: () => deps.sink.ready() && importSink.ready() });

  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return deps.metricsText ? deps.metricsText() : metrics.registry.metrics();
  });

  return app;
}

export { fail };

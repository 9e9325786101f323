/**
 * The collector service: parse the environment, build the app, listen; SIGTERM stops taking
 * traffic, lets waiting requests get their Kafka acks, flushes the buffer, then exits.
 */
import cluster from 'node:cluster';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { createClickHouse } from '@stint/infra/clickhouse';
import { createKafka, ensureTopic } from '@stint/infra/kafka';
import { getSite, verifyToken } from '@stint/infra/registry';
import { createLogger, envFields, parseEnv, runService } from '@stint/infra/service';
import { stintHome } from '@stint/infra/stack';
import { z } from 'zod';
import { buildCollector } from './app.ts';
import { runPrimary, workerMetrics, workerRateLimit } from './cluster.ts';
import { EVENTS_TOPIC, importsTopicFor } from './contract/event.ts';
import { createGeoLookup, noGeo } from './enrich/geo.ts';
import { openSharedSaltStore } from './enrich/shared-salts.ts';
import { createUserAgentCache } from './enrich/user-agent.ts';
import { createKafkaSink } from './kafka-sink.ts';
import { createMetrics } from './metrics.ts';
import { cachedLookup, cachedPredicate } from './site-cache.ts';
import { clickhouseStoredEventIds } from './stored-events.ts';

const flag = z
  .enum(['true', 'false', '1', '0', 'on', 'off'])
  .transform((v) => ['true', '1', 'on'].includes(v));

export const CollectorEnvSchema = z.object({
  COLLECTOR_HOST: envFields.host,
  COLLECTOR_PORT: envFields.port(8301),
  LOG_LEVEL: envFields.logLevel,
  CLICKHOUSE_URL: envFields.clickhouseUrl,
  CLICKHOUSE_DATABASE: envFields.clickhouseDatabase,
  KAFKA_BROKERS: envFields.kafkaBrokers,
  EVENTS_TOPIC: z.string().min(1).default(EVENTS_TOPIC),
  /** POST /api/import (log imports, backfills): a topic of its own, with the same partition count (default: see `importsTopicFor`). */
  IMPORTS_TOPIC: z.string().min(1).optional(),
  /** Used only when the collector has to create the topics itself. */
  EVENTS_TOPIC_PARTITIONS: z.coerce.number().int().min(1).max(1000).default(6),
  STINT_HOME: z.string().optional(),
  /**
   * Local cache of the shared daily salts and install secret (the salts themselves live in ClickHouse,
   * shared by every collector); default <STINT_HOME>/collector/salts.json.
   */
  COLLECTOR_SALT_FILE: z.string().optional(),
  /** How often the shared salts are re-read (and tomorrow's proposed, old days deleted). */
  COLLECTOR_SALT_REFRESH_MS: z.coerce.number().int().min(100).default(30_000),
  /** Per client IP on the public endpoints, for the whole collector (with N processes each allows 1/N). */
  COLLECTOR_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(600),
  /** node:cluster workers sharing the port (`stint start --collectors N`); 1 = a single process. */
  COLLECTOR_PROCESSES: z.coerce.number().int().min(1).max(64).default(1),
  COLLECTOR_TRUST_PROXY: z.string().default('false'),
  /** POST /api/events only; imports are bounded by the site's own `import_max_age_days` (none by default). */
  COLLECTOR_MAX_EVENT_AGE_DAYS: z.coerce.number().int().positive().default(730),
  COLLECTOR_BUFFER_EVENTS: z.coerce.number().int().positive().default(20_000),
  COLLECTOR_BATCH_EVENTS: z.coerce.number().int().positive().default(1_000),
  /** 0: a send leaves in the next turn of the event loop; under load batches grow while a send is in flight. */
  COLLECTOR_LINGER_MS: z.coerce.number().int().min(0).max(1000).default(0),
  /** Parallel producers; partition p goes through lane p % lanes (best: a divisor of the partition count). */
  COLLECTOR_KAFKA_LANES: z.coerce.number().int().min(1).max(64).default(3),
  COLLECTOR_FILTER_BOTS: flag.default(true),
  COLLECTOR_GEOIP: flag.default(true),
  SHUTDOWN_TIMEOUT_MS: envFields.shutdownTimeoutMs,
});
export type CollectorEnv = z.infer<typeof CollectorEnvSchema>;

function trustProxy(value: string): boolean | string {
  if (value === 'true') return true;
  if (value === 'false' || value === '') return false;
  return value;
}

const parsed = parseEnv('collector', CollectorEnvSchema);
const env = { ...parsed, IMPORTS_TOPIC: parsed.IMPORTS_TOPIC ?? importsTopicFor(parsed.EVENTS_TOPIC) };
const log = createLogger('collector', env.LOG_LEVEL);
const clustered = env.COLLECTOR_PROCESSES > 1;

if (clustered && cluster.isPrimary) {
  await runPrimary({
    processes: env.COLLECTOR_PROCESSES,
    log,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
  });
} else {
  await runCollector();
}

async function runCollector(): Promise<void> {
  await runService(
    'collector',
    log,
    async () => {
      const clickhouse = createClickHouse({ url: env.CLICKHOUSE_URL, database: env.CLICKHOUSE_DATABASE });
      const kafka = createKafka({
        clientId: 'stint-collector',
        brokers: env.KAFKA_BROKERS.split(','),
        log: (level, message, extra) => log[level]({ kafka: extra }, message),
      });
      if (env.IMPORTS_TOPIC === env.EVENTS_TOPIC) {
        throw new Error('IMPORTS_TOPIC must differ from EVENTS_TOPIC (imports keep watermarks of their own)');
      }
      await ensureTopic(kafka, env.EVENTS_TOPIC, env.EVENTS_TOPIC_PARTITIONS);
      await ensureTopic(kafka, env.IMPORTS_TOPIC, env.EVENTS_TOPIC_PARTITIONS);

      let metrics: ReturnType<typeof createMetrics> | undefined;
      const makeSink = (topic: string, bufferEvents: number) =>
        createKafkaSink({
          kafka,
          topic,
          maxBufferEvents: bufferEvents,
          maxBatchEvents: env.COLLECTOR_BATCH_EVENTS,
          lingerMs: env.COLLECTOR_LINGER_MS,
          lanes: env.COLLECTOR_KAFKA_LANES,
          observer: {
            sent: (seconds, events, ok) => {
              metrics?.kafkaSend.observe({ outcome: ok ? 'ok' : 'error' }, seconds);
              if (ok) metrics?.kafkaBatch.observe(events);
            },
            error: (err) => log.warn({ err, topic }, 'kafka send failed'),
          },
        });
      const sink = makeSink(env.EVENTS_TOPIC, env.COLLECTOR_BUFFER_EVENTS);
      // Imports get a buffer of their own: a large import answered 503 (and retried) never fills the
      // buffer live events need.
      const importSink = makeSink(env.IMPORTS_TOPIC, env.COLLECTOR_BUFFER_EVENTS);
      metrics = createMetrics(() => sink.depth() + importSink.depth());
      const metricsText = clustered ? workerMetrics(metrics.registry) : undefined;
      await Promise.all([sink.start(), importSink.start()]);

      const database = env.CLICKHOUSE_DATABASE;
      const saltFile =
        env.COLLECTOR_SALT_FILE ?? join(env.STINT_HOME ?? stintHome(), 'collector', 'salts.json');
      const salts = await openSharedSaltStore({
        client: clickhouse,
        database,
        cacheFile: saltFile,
        refreshMs: env.COLLECTOR_SALT_REFRESH_MS,
        log,
      });
      // One cached registry row per site answers both whether it exists and how far back it may import.
      const siteOf = cachedLookup(
        (site: string) => getSite(clickhouse, database, site),
        (site) => site,
        (found) => found !== null,
      );
      const app = await buildCollector({
        sink,
        importSink,
        metrics,
        ...(metricsText ? { metricsText } : {}),
        siteExists: async (site) => (await siteOf(site)) !== null,
        importMaxAgeMs: async (site) => {
          const days = (await siteOf(site))?.import_max_age_days ?? 0;
          return days > 0 ? days * 86_400_000 : null;
        },
        storedEventIds: clickhouseStoredEventIds(clickhouse, database),
        authorizeIngest: cachedPredicate(
          async (token: string, site: string) =>
            (await verifyToken(clickhouse, database, token, { scope: 'ingest', site })) !== null,
          // Keyed by a hash: the cache never holds a token in clear.
          (token, site) => `${createHash('sha256').update(token).digest('hex')}|${site}`,
          { ttlMs: 30_000, negativeTtlMs: 2_000 },
        ),
        geo: env.COLLECTOR_GEOIP ? createGeoLookup() : noGeo,
        userAgent: createUserAgentCache(),
        salts,
        logger: log,
        config: {
          rateLimitPerMinute: workerRateLimit(env.COLLECTOR_RATE_LIMIT_PER_MINUTE, env.COLLECTOR_PROCESSES),
          trustProxy: trustProxy(env.COLLECTOR_TRUST_PROXY),
          maxEventAgeMs: env.COLLECTOR_MAX_EVENT_AGE_DAYS * 86_400_000,
          filterBots: env.COLLECTOR_FILTER_BOTS,
        },
      });
      const address = await app.listen({ host: env.COLLECTOR_HOST, port: env.COLLECTOR_PORT });
      log.info(
        { address, topic: env.EVENTS_TOPIC, importsTopic: env.IMPORTS_TOPIC, partitions: sink.partitions() },
        clustered
          ? `collector worker ${process.env.COLLECTOR_WORKER ?? '?'} listening`
          : 'collector listening',
      );

      return {
        shutdown: [
          // Stops accepting; requests already waiting for their Kafka ack are answered first.
          { name: 'http', run: () => app.close() },
          {
            name: 'kafka flush',
            run: () => Promise.all([sink.close(), importSink.close()]).then(() => undefined),
          },
          {
            name: 'clickhouse',
            run: () => {
              salts.close();
              return clickhouse.close();
            },
          },
        ],
      };
    },
    { shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS },
  );
}

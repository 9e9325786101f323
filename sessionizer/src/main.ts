/**
 * The sessionizer service: parse the environment, build, serve /metrics, consume; SIGTERM stops
 * consuming, flushes the buffered rows and commits, then exits.
 */
import { createServer } from 'node:http';
import { EVENTS_TOPIC, importsTopicFor } from '@stint/collector/contract';
import { createClickHouse } from '@stint/infra/clickhouse';
import { createKafka, ensureTopic } from '@stint/infra/kafka';
import { createLogger, envFields, parseEnv, runService } from '@stint/infra/service';
import { z } from 'zod';
import { buildSessionizer } from './sessionizer.ts';

const ms = (fallback: number) => z.coerce.number().int().min(0).default(fallback);

export const SessionizerEnvSchema = z.object({
  LOG_LEVEL: envFields.logLevel,
  CLICKHOUSE_URL: envFields.clickhouseUrl,
  CLICKHOUSE_DATABASE: envFields.clickhouseDatabase,
  KAFKA_BROKERS: envFields.kafkaBrokers,
  EVENTS_TOPIC: z.string().min(1).default(EVENTS_TOPIC),
  /**
   * Imports and backfills (POST /api/import), default: see `importsTopicFor`; an empty value consumes
   * the events topic alone.
   */
  IMPORTS_TOPIC: z.string().optional(),
  EVENTS_TOPIC_PARTITIONS: z.coerce.number().int().min(1).max(1000).default(6),
  SESSIONIZER_GROUP: z.string().min(1).default('stint-sessionizer'),
  SESSIONIZER_LATENESS_MS: ms(120_000),
  SESSIONIZER_RETENTION_MS: ms(600_000),
  SESSIONIZER_RETENTION_MESSAGES: z.coerce.number().int().min(0).default(10_000),
  SESSIONIZER_SITE_SKEW_MS: ms(3_600_000),
  SESSIONIZER_FLUSH_INTERVAL_MS: z.coerce.number().int().min(10).default(1000),
  SESSIONIZER_FLUSH_ROWS: z.coerce.number().int().min(1).default(100_000),
  SESSIONIZER_IDLE_MS: ms(5000),
  SESSIONIZER_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6000).default(30_000),
  SESSIONIZER_METRICS_HOST: envFields.host,
  /** 0 picks a free port; the chosen one is logged. */
  SESSIONIZER_METRICS_PORT: envFields.port(18090),
  SHUTDOWN_TIMEOUT_MS: envFields.shutdownTimeoutMs,
});

const parsed = parseEnv('sessionizer', SessionizerEnvSchema);
const env = { ...parsed, IMPORTS_TOPIC: parsed.IMPORTS_TOPIC ?? importsTopicFor(parsed.EVENTS_TOPIC) };
const log = createLogger('sessionizer', env.LOG_LEVEL);

await runService(
  'sessionizer',
  log,
  async () => {
    const clickhouse = createClickHouse({ url: env.CLICKHOUSE_URL, database: env.CLICKHOUSE_DATABASE });
    const kafka = createKafka({
      clientId: 'stint-sessionizer',
      brokers: env.KAFKA_BROKERS.split(','),
      log: (level, message, extra) => log[level]({ ...extra, kafkajs: true }, message),
    });
    if (env.IMPORTS_TOPIC === env.EVENTS_TOPIC) {
      throw new Error('IMPORTS_TOPIC must differ from EVENTS_TOPIC (imports keep watermarks of their own)');
    }
    await ensureTopic(kafka, env.EVENTS_TOPIC, env.EVENTS_TOPIC_PARTITIONS);
    if (env.IMPORTS_TOPIC !== '') await ensureTopic(kafka, env.IMPORTS_TOPIC, env.EVENTS_TOPIC_PARTITIONS);
    const sessionizer = buildSessionizer({
      kafka,
      clickhouse,
      database: env.CLICKHOUSE_DATABASE,
      topic: env.EVENTS_TOPIC,
      ...(env.IMPORTS_TOPIC !== '' ? { importsTopic: env.IMPORTS_TOPIC } : {}),
      groupId: env.SESSIONIZER_GROUP,
      log,
      latenessMs: env.SESSIONIZER_LATENESS_MS,
      retentionMs: env.SESSIONIZER_RETENTION_MS,
      retentionMessages: env.SESSIONIZER_RETENTION_MESSAGES,
      siteSkewMs: env.SESSIONIZER_SITE_SKEW_MS,
      flushIntervalMs: env.SESSIONIZER_FLUSH_INTERVAL_MS,
      flushRows: env.SESSIONIZER_FLUSH_ROWS,
      idleMs: env.SESSIONIZER_IDLE_MS,
      sessionTimeoutMs: env.SESSIONIZER_SESSION_TIMEOUT_MS,
    });
    let started = false;
    const server = createServer((req, res) => {
      if (req.url === '/metrics') {
        sessionizer.metrics.registry
          .metrics()
          .then((text) => {
            res.writeHead(200, { 'content-type': sessionizer.metrics.registry.contentType });
            res.end(text);
          })
          .catch(() => res.writeHead(500).end());
      } else if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      } else if (req.url === '/readyz') {
        // Ready once the consumer has started (joined the group) and ClickHouse answers.
        const s = sessionizer.status();
        const ready = started && s.clickhouseUp;
        res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: ready ? 'ready' : 'not ready', started, ...s }));
      } else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) =>
      server.listen(env.SESSIONIZER_METRICS_PORT, env.SESSIONIZER_METRICS_HOST, resolve),
    );
    log.info(
      { address: server.address(), topic: env.EVENTS_TOPIC, importsTopic: env.IMPORTS_TOPIC || null },
      'sessionizer started',
    );
    await sessionizer.start();
    started = true;
    return {
      shutdown: [
        { name: 'stop consuming, flush and commit', run: () => sessionizer.stop() },
        { name: 'close metrics server', run: () => new Promise<void>((r) => server.close(() => r())) },
        { name: 'close ClickHouse client', run: () => clickhouse.close() },
      ],
    };
  },
  { shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS },
);

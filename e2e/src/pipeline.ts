/**
 * The whole pipeline for one test: a fresh `stint_test_*` database, a unique topic, registered sites
 * and tokens, and the REAL services (collector, sessionizer, api) as child processes on free ports.
 * Each service can be killed with any signal and restarted, which is what the fault tests do.
 *
 * Services run as `node --import tsx <part>/src/main.ts` rather than through the `tsx` binary: the
 * binary starts a second node process and relays signals, so a SIGKILL to it would leave the real
 * service running. Here the pid we signal is the service itself.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importsTopicFor } from '@stint/collector/contract';
import {
  type ClickHouseClient,
  createClickHouse,
  createMigrationClient,
  dropDatabase,
  migrate,
} from '@stint/infra/clickhouse';
import { createKafka, ensureTopic } from '@stint/infra/kafka';
import { addSite, createToken, type SiteSettingsSchema } from '@stint/infra/registry';
import { uniqueTopic, waitFor } from '@stint/infra/testing';
import type { z } from 'zod';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');

export type ServiceKind = 'collector' | 'sessionizer' | 'api';

const ENTRY: Record<ServiceKind, string> = {
  collector: 'collector/src/main.ts',
  sessionizer: 'sessionizer/src/main.ts',
  api: 'api/src/main.ts',
};

const PORT_VAR: Record<ServiceKind, string> = {
  collector: 'COLLECTOR_PORT',
  sessionizer: 'SESSIONIZER_METRICS_PORT',
  api: 'API_PORT',
};

export interface Service {
  readonly name: string;
  readonly kind: ServiceKind;
  readonly port: number;
  readonly url: string;
  /** The process id while running, else null. */
  pid(): number | null;
  running(): boolean;
  /** Spawns the process and waits until /readyz answers 200. */
  start(): Promise<void>;
  /** Sends `signal` and waits for the exit; returns the exit code (null when killed by a signal). */
  kill(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** kill(signal) then start(). */
  restart(signal?: NodeJS.Signals): Promise<void>;
  /** The last lines of this service's log (all runs, appended). */
  logTail(lines?: number): string;
}

export interface PipelineOptions {
  label: string;
  sites: z.input<typeof SiteSettingsSchema>[];
  partitions?: number;
  collector?: boolean;
  api?: boolean;
  /** Number of sessionizer instances (0 = none). */
  sessionizers?: number;
  /** ClickHouse and Kafka to use (default: the environment's, i.e. the shared local stack). */
  clickhouseUrl?: string;
  kafkaBrokers?: string;
  /** Extra environment per service kind. */
  env?: Partial<Record<ServiceKind, Record<string, string>>>;
  /** How long a service may take to become ready (default 60 s: tsx compiles on first start). */
  readyTimeoutMs?: number;
}

export interface Pipeline {
  database: string;
  topic: string;
  /** The imports topic (POST /api/import) beside `topic`. */
  importsTopic: string;
  consumerGroup: string;
  clickhouseUrl: string;
  kafkaBrokers: string;
  /** A ClickHouse client whose default database is the test database. */
  client: ClickHouseClient;
  ingestToken: Record<string, string>;
  readToken: Record<string, string>;
  collector: Service;
  api: Service;
  sessionizers: Service[];
  /** Adds and starts another sessionizer instance in the same consumer group. */
  addSessionizer(): Promise<Service>;
  /** Adds and starts another collector on a port of its own (same database and topic), `env` on top. */
  addCollector(env?: Record<string, string>): Promise<Service>;
  /** The collectors added by addCollector (besides `collector`). */
  moreCollectors: Service[];
  logDir: string;
  /** The tail of every service's log, for a failing test's output. */
  logs(lines?: number): string;
  stopAll(signal?: NodeJS.Signals): Promise<void>;
  /** stopAll, drop the database, delete the topic. */
  close(): Promise<void>;
}

/**
 * A port that is free now, for a service that binds it later (and again after a restart). Chosen at
 * random below Linux's ephemeral range (32768+), where neither `listen(0)` nor outgoing connections of
 * the other test workers take ports, so the window between this check and the bind is not a race.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
    if (attempt > 50) throw new Error('no free port found between 20000 and 32000');
  }
}

function tail(file: string, lines: number): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

async function ready(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

function createService(
  kind: ServiceKind,
  name: string,
  port: number,
  env: NodeJS.ProcessEnv,
  logFile: string,
  readyTimeoutMs: number,
): Service {
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  let exited: Promise<number | null> = Promise.resolve(null);

  const service: Service = {
    name,
    kind,
    port,
    url,
    pid: () => (child && child.exitCode === null && child.signalCode === null ? (child.pid ?? null) : null),
    running: () => service.pid() !== null,
    async start() {
      if (service.running()) throw new Error(`${name} is already running`);
      const out = openSync(logFile, 'a');
      const proc = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, ENTRY[kind])], {
        cwd: REPO_ROOT,
        env: { ...env, [PORT_VAR[kind]]: String(port) },
        stdio: ['ignore', out, out],
      });
      closeSync(out);
      child = proc;
      exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
      const dead = () => proc.exitCode !== null || proc.signalCode !== null;
      try {
        await waitFor(
          async () => {
            if (dead()) throw new Error(`${name} exited with ${proc.exitCode ?? proc.signalCode}`);
            return ready(url);
          },
          { timeoutMs: readyTimeoutMs, intervalMs: 200, message: `${name} ready at ${url}/readyz` },
        );
      } catch (err) {
        if (!dead()) proc.kill('SIGKILL');
        throw new Error(`${(err as Error).message}\n--- ${logFile}\n${tail(logFile, 40)}`);
      }
    },
    async kill(signal = 'SIGTERM', timeoutMs = 30_000) {
      const proc = child;
      if (!proc || !service.running()) return proc?.exitCode ?? null;
      proc.kill(signal);
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
      const result = await Promise.race([exited, timer]);
      if (result === 'timeout') {
        proc.kill('SIGKILL');
        await exited;
        throw new Error(`${name} did not exit within ${timeoutMs} ms of ${signal}`);
      }
      return result;
    },
    async restart(signal = 'SIGTERM') {
      await service.kill(signal);
      await service.start();
    },
    logTail: (lines = 30) => tail(logFile, lines),
  };
  return service;
}

export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const clickhouseUrl = options.clickhouseUrl ?? process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:18123';
  const kafkaBrokers = options.kafkaBrokers ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:19092';
  const label = options.label
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 24);
  const database = `stint_test_e2e_${label}_${Date.now().toString(36)}_${Math.random().toString(16).slice(2, 8)}`;
  const admin = createMigrationClient({ url: clickhouseUrl });
  try {
    await migrate({ client: admin, database });
  } finally {
    await admin.close();
  }
  const client = createClickHouse({ url: clickhouseUrl, database });

  const topic = uniqueTopic(`e2e_${label}`);
  const consumerGroup = `stint-e2e-${topic}`;
  const kafka = createKafka({ clientId: 'stint-e2e', brokers: kafkaBrokers.split(',') });
  const importsTopic = importsTopicFor(topic);
  await ensureTopic(kafka, topic, options.partitions ?? 4);
  await ensureTopic(kafka, importsTopic, options.partitions ?? 4);

  const ingestToken: Record<string, string> = {};
  const readToken: Record<string, string> = {};
  for (const site of options.sites) {
    await addSite(client, database, site);
    ingestToken[site.site_id] = (
      await createToken(client, database, { site: site.site_id, scope: 'ingest' })
    ).secret;
    readToken[site.site_id] = (
      await createToken(client, database, { site: site.site_id, scope: 'read' })
    ).secret;
  }

  const logDir = mkdtempSync(join(tmpdir(), `stint-e2e-${label}-`));
  const baseEnv: NodeJS.ProcessEnv = {
    ...process.env,
    CLICKHOUSE_URL: clickhouseUrl,
    CLICKHOUSE_DATABASE: database,
    KAFKA_BROKERS: kafkaBrokers,
    EVENTS_TOPIC: topic,
    EVENTS_TOPIC_PARTITIONS: String(options.partitions ?? 4),
    STINT_HOME: logDir,
    LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'info',
    NODE_ENV: 'test',
  };
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const make = async (kind: ServiceKind, name: string, extraEnv: Record<string, string> = {}) =>
    createService(
      kind,
      name,
      await freePort(),
      {
        ...baseEnv,
        ...(kind === 'sessionizer'
          ? {
              SESSIONIZER_GROUP: consumerGroup,
            }
          : {}),
        ...(kind === 'collector'
          ? { COLLECTOR_SALT_FILE: join(logDir, 'salts.json'), COLLECTOR_RATE_LIMIT_PER_MINUTE: '100000' }
          : {}),
        ...options.env?.[kind],
        ...extraEnv,
      },
      join(logDir, `${name}.log`),
      readyTimeoutMs,
    );

  const collector = await make('collector', 'collector');
  const api = await make('api', 'api');
  const sessionizers: Service[] = [];
  for (let i = 0; i < (options.sessionizers ?? 1); i++)
    sessionizers.push(await make('sessionizer', `sessionizer-${i + 1}`));

  const moreCollectors: Service[] = [];
  const all = () => [collector, ...moreCollectors, ...sessionizers, api];
  const pipeline: Pipeline = {
    database,
    topic,
    importsTopic,
    consumerGroup,
    clickhouseUrl,
    kafkaBrokers,
    client,
    ingestToken,
    readToken,
    collector,
    api,
    sessionizers,
    logDir,
    async addSessionizer() {
      const s = await make('sessionizer', `sessionizer-${sessionizers.length + 1}`);
      sessionizers.push(s);
      await s.start();
      return s;
    },
    moreCollectors,
    async addCollector(env = {}) {
      const c = await make('collector', `collector-${moreCollectors.length + 2}`, env);
      moreCollectors.push(c);
      await c.start();
      return c;
    },
    logs(lines = 30) {
      return all()
        .map((s) => `--- ${s.name} (${join(logDir, `${s.name}.log`)})\n${s.logTail(lines)}`)
        .join('\n');
    },
    async stopAll(signal = 'SIGTERM') {
      // The collector first (it drains into Kafka), then the sessionizers, then the api.
      for (const s of all()) {
        try {
          await s.kill(signal);
        } catch {
          // already reported by kill(); keep stopping the others
        }
      }
    },
    async close() {
      await pipeline.stopAll();
      // E2E_KEEP=1 leaves the database and topic for a post-mortem (named in the logs above).
      if (process.env.E2E_KEEP === '1') {
        process.stderr.write(`[e2e] kept database ${database} and topic ${topic}; logs in ${logDir}\n`);
        await client.close();
        return;
      }
      try {
        await dropDatabase(client, database);
      } finally {
        await client.close();
      }
      const kafkaAdmin = kafka.admin();
      try {
        await kafkaAdmin.connect();
        await kafkaAdmin.deleteTopics({ topics: [topic, importsTopic], timeout: 5000 });
      } catch {
        // best effort: a leftover test topic is harmless
      } finally {
        await kafkaAdmin.disconnect();
      }
    },
  };

  try {
    const starts: Promise<void>[] = [];
    if (options.collector ?? true) starts.push(collector.start());
    if (options.api ?? true) starts.push(api.start());
    for (const s of sessionizers) starts.push(s.start());
    await Promise.all(starts);
  } catch (err) {
    await pipeline.close().catch(() => {});
    throw err;
  }
  return pipeline;
}

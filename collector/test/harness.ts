/**
 * Shared set-up for the collector's integration tests: a migrated test database with a registered
 * site and an ingest token, a fresh topic, a real Kafka sink, and a reader of what reached Kafka.
 */
import { randomUUID } from 'node:crypto';
import { createKafka, ensureTopic } from '@stint/infra/kafka';
import { addSite, createToken, getSite, verifyToken } from '@stint/infra/registry';
import { createTestDatabase, type TestDatabase, uniqueTopic } from '@stint/infra/testing';
import type { FastifyInstance } from 'fastify';
import type { Consumer, Kafka } from 'kafkajs';
import { buildCollector, type CollectorConfig } from '../src/app.ts';
import { decodeKafkaEvent, type KafkaEvent } from '../src/contract/event.ts';
import { createGeoLookup, type GeoLookup } from '../src/enrich/geo.ts';
import { createMemorySaltStore, type SaltStore } from '../src/enrich/salt-store.ts';
import { createUserAgentCache } from '../src/enrich/user-agent.ts';
import { createKafkaSink, type EventSink, type KafkaSinkOptions } from '../src/kafka-sink.ts';
import type { SnippetBuilder } from '../src/snippet.ts';
import { clickhouseStoredEventIds } from '../src/stored-events.ts';

export const SITE = 'example.com';
export const CHROME_UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
/** MaxMind's test address in Great Britain. */
export const GB_IP = '81.2.69.160';

let geo: GeoLookup | undefined;

export interface Received {
  event: KafkaEvent;
  raw: string;
  key: string;
  partition: number;
}

export interface Harness {
  db: TestDatabase;
  kafka: Kafka;
  topic: string;
  partitions: number;
  token: string;
  salts: SaltStore;
  sink: EventSink;
  app: FastifyInstance;
  /** Every message read from the topic so far. */
  received: Received[];
  /** Sum of the topic's high-water marks: what was produced, without waiting for a consumer. */
  produced(): Promise<number>;
  buildApp(extra?: {
    config?: Partial<CollectorConfig>;
    snippet?: SnippetBuilder;
    sink?: EventSink;
  }): Promise<FastifyInstance>;
  close(): Promise<void>;
}

export async function startHarness(
  label: string,
  options: { partitions?: number; sink?: Partial<KafkaSinkOptions> } = {},
): Promise<Harness> {
  const db = await createTestDatabase(label);
  await addSite(db.client, db.database, { site_id: SITE });
  const { secret: token } = await createToken(db.client, db.database, { site: SITE, scope: 'ingest' });
  const kafka = createKafka({ clientId: `collector-test-${label}` });
  const topic = uniqueTopic(label);
  const partitions = options.partitions ?? 3;
  await ensureTopic(kafka, topic, partitions);

  const sink = createKafkaSink({ kafka, topic, lingerMs: 2, ...options.sink });
  await sink.start();
  const salts = createMemorySaltStore();
  geo ??= createGeoLookup();
  const apps: FastifyInstance[] = [];

  const buildApp: Harness['buildApp'] = async (extra = {}) => {
    const app = await buildCollector({
      sink: extra.sink ?? sink,
      siteExists: async (site) => (await getSite(db.client, db.database, site)) !== null,
      importMaxAgeMs: async (site) => {
        const days = (await getSite(db.client, db.database, site))?.import_max_age_days ?? 0;
        return days > 0 ? days * 86_400_000 : null;
      },
      storedEventIds: clickhouseStoredEventIds(db.client, db.database),
      authorizeIngest: async (t, site) =>
        (await verifyToken(db.client, db.database, t, { scope: 'ingest', site })) !== null,
      geo: geo as GeoLookup,
      userAgent: createUserAgentCache(),
      salts,
      config: { rateLimitPerMinute: 100_000, ...extra.config },
      ...(extra.snippet ? { snippet: extra.snippet } : {}),
    });
    apps.push(app);
    return app;
  };
  const app = await buildApp();

  const received: Received[] = [];
  const consumer: Consumer = kafka.consumer({ groupId: `collector-test-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      const raw = message.value?.toString('utf8') ?? '';
      received.push({
        event: decodeKafkaEvent(raw),
        raw,
        key: message.key?.toString('utf8') ?? '',
        partition,
      });
    },
  });

  const admin = kafka.admin();
  await admin.connect();

  return {
    db,
    kafka,
    topic,
    partitions,
    token,
    salts,
    sink,
    app,
    received,
    async produced() {
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets.reduce((sum, o) => sum + Number(o.high), 0);
    },
    buildApp,
    async close() {
      for (const a of apps) await a.close();
      await sink.close();
      await consumer.disconnect();
      await admin.disconnect();
      await db.drop();
    },
  };
}

/**
 * The Kafka seam. kafkajs is unmaintained upstream; everything else goes through these few functions
 * so a later switch of client stays cheap.
 */
import { type Admin, Kafka, type Kafka as KafkaClient, type KafkaConfig, logLevel } from 'kafkajs';
import {
  type ClusterFacts,
  type ReplicationSettings,
  replicationFromEnv,
  topicReplication,
} from './replication.ts';

export type { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
export {
  type ClusterFacts,
  defaultReplication,
  type ReplicationSettings,
  replicationFromEnv,
  type TopicReplication,
  topicReplication,
} from './replication.ts';

export const DEFAULT_KAFKA_BROKERS = '127.0.0.1:19092';

export function kafkaBrokers(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.KAFKA_BROKERS || DEFAULT_KAFKA_BROKERS)
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
}

export interface KafkaOptions {
  clientId: string;
  brokers?: string[];
  /** Called for kafkajs' own warnings and errors (default: silent below error, to stderr). */
  log?: (level: 'error' | 'warn' | 'info' | 'debug', message: string, extra: Record<string, unknown>) => void;
  connectionTimeoutMs?: number;
  retries?: number;
}

const LEVELS = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
} as const;

const REBALANCING = /^The group is rebalancing/;
const BOUNDED_RETRIES = 'Limiting retries for the idempotent producer may invalidate EoS guarantees';

export function createKafka(options: KafkaOptions): KafkaClient {
  const config: KafkaConfig = {
    clientId: options.clientId,
    brokers: options.brokers ?? kafkaBrokers(),
    connectionTimeout: options.connectionTimeoutMs ?? 3000,
    requestTimeout: 10_000,
    retry: { retries: options.retries ?? 8, initialRetryTime: 100, maxRetryTime: 2000 },
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => {
      const { message, ...extra } = entry.log;
      // kafkajs logs every error code a broker answers as an error, even the ones that are part of the
      // protocol and handled (a heartbeat told the group is rebalancing: the member just rejoins).
      // It also warns at every start of an idempotent producer with bounded retries, which the
      // collector's sink uses on purpose: a send that gives up is answered 503, never acknowledged, so
      // nothing acknowledged is lost (a batch sender that retries with its own event ids is counted
      // once; see collector/src/kafka-sink.ts). That warning is only debug.
      const handled =
        (typeof extra.error === 'string' && REBALANCING.test(extra.error)) || message === BOUNDED_RETRIES;
      const level = handled ? 'debug' : (LEVELS[entry.level as keyof typeof LEVELS] ?? 'info');
      if (options.log) options.log(level, message, extra);
      else if (level === 'error') process.stderr.write(`kafkajs ${entry.namespace}: ${message}\n`);
    },
  };
  return new Kafka(config);
}

/** kafkajs' ConfigResourceTypes.BROKER (not importable by name from its CommonJS build under ESM). */
const BROKER_RESOURCE = 4;

/** Live brokers and the brokers' replication defaults (1 and 1 when the configs cannot be read). */
async function clusterFacts(admin: Admin): Promise<ClusterFacts> {
  const { brokers } = await admin.describeCluster();
  const facts: ClusterFacts = {
    liveBrokers: brokers.length,
    defaultReplicationFactor: 1,
    defaultMinInsync: 1,
  };
  const first = brokers[0];
  if (first === undefined) return facts;
  try {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        {
          type: BROKER_RESOURCE,
          name: String(first.nodeId),
          configNames: ['default.replication.factor', 'min.insync.replicas'],
        },
      ],
    });
    for (const entry of resources[0]?.configEntries ?? []) {
      const value = Number(entry.configValue);
      if (!Number.isInteger(value) || value < 1) continue;
      if (entry.configName === 'default.replication.factor') facts.defaultReplicationFactor = value;
      if (entry.configName === 'min.insync.replicas') facts.defaultMinInsync = value;
    }
  } catch {
    // Not allowed to read broker configs (an external cluster's ACLs): the defaults above.
  }
  return facts;
}

/**
 * Creates the topic when missing (idempotent) and waits until every partition has a leader (`partitions`
 * applies to a topic created here; an existing topic keeps its own count). kafkajs' own
 * `waitForLeaders` gives up on the first UNKNOWN_TOPIC_OR_PARTITION a freshly created topic can still
 * answer with in KRaft mode, so the wait is done here and tolerates it.
 */
export async function ensureTopic(
  kafka: KafkaClient,
  topic: string,
  partitions: number,
  timeoutMs = 30_000,
  replication: ReplicationSettings = replicationFromEnv(),
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = await admin.listTopics();
    const created = !existing.includes(topic);
    if (created) {
      // Replicated by the live broker count (see replication.ts): one broker, one replica, as always.
      const { replicationFactor, configEntries } = topicReplication(
        topic,
        await clusterFacts(admin),
        replication,
      );
      await admin.createTopics({
        waitForLeaders: false,
        topics: [
          {
            topic,
            numPartitions: partitions,
            replicationFactor,
            ...(configEntries.length > 0 ? { configEntries } : {}),
          },
        ],
      });
    }
    const expected = created ? partitions : 1;
    const deadline = Date.now() + timeoutMs;
    let lastError = 'no metadata yet';
    for (;;) {
      try {
        const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
        const all = topics[0]?.partitions ?? [];
        const led = all.filter((p) => p.leader >= 0).length;
        if (all.length >= expected && led === all.length) return;
        lastError = `${led} of ${Math.max(all.length, expected)} partitions have a leader`;
      } catch (error) {
        lastError = error instanceof Error ? error.message : String(error);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `topic ${topic}: partitions still without a leader after ${timeoutMs} ms (${lastError})`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await admin.disconnect();
  }
}

import {
  clickhouseDown,
  clickhousePaths,
  clickhouseStatus,
  clickhouseUp,
  clickhouseVersion,
} from './clickhouse.ts';
import { kafkaDown, kafkaPaths, kafkaStatus, kafkaUp, kafkaVersion } from './kafka.ts';
import {
  brokerDown,
  brokerUp,
  clusterLogs,
  clusterPaths,
  clusterStatus,
  kafkaClusterDown,
  kafkaClusterUp,
  layoutFor,
} from './kafka-cluster.ts';
import { parseBrokerCount } from './kafka-layout.ts';
import { PORTS } from './paths.ts';

export { clusterLayout, clusterReplication, parseBrokerCount } from './kafka-layout.ts';
export { serviceNodeFlags } from './node-flags.ts';
export { PORTS, REPO_ROOT, stintHome } from './paths.ts';
export {
  brokerDown,
  brokerUp,
  clickhouseDown,
  clickhousePaths,
  clickhouseUp,
  clickhouseVersion,
  clusterPaths,
  clusterStatus,
  kafkaClusterDown,
  kafkaClusterUp,
  kafkaDown,
  kafkaPaths,
  kafkaUp,
  kafkaVersion,
  layoutFor,
};

type Log = (message: string) => void;

/** External servers given by the environment replace the local ones. */
export function externalServers(env: NodeJS.ProcessEnv = process.env) {
  return { kafka: Boolean(env.KAFKA_BROKERS), clickhouse: Boolean(env.CLICKHOUSE_URL) };
}

export interface UpResult {
  kafka: 'started' | 'running' | 'external';
  clickhouse: 'started' | 'running' | 'external';
  /** Local brokers (1: the single-node default). */
  kafkaBrokers: number;
  /** host:port,... of the local brokers (what KAFKA_BROKERS should be for them). */
  kafkaBootstrap: string;
  ms: number;
}

/** A cluster recorded in this STINT_HOME whose nodes are running, if any: its broker count. */
async function runningClusterBrokers(): Promise<number | null> {
  const status = await clusterStatus();
  return status?.running ? status.brokers : null;
}

/**
 * How many local brokers: `--kafka-brokers`, else STINT_KAFKA_BROKER_COUNT, else the cluster already
 * running here, else 1 (the single-node default).
 */
export async function localBrokerCount(
  flag?: string | number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  if (flag !== undefined) return parseBrokerCount(flag, '--kafka-brokers');
  if (env.STINT_KAFKA_BROKER_COUNT)
    return parseBrokerCount(env.STINT_KAFKA_BROKER_COUNT, 'STINT_KAFKA_BROKER_COUNT');
  return (await runningClusterBrokers()) ?? 1;
}

/** The local brokers' addresses (the running cluster's, else the single node's). */
export async function localKafkaBootstrap(): Promise<string> {
  const n = await runningClusterBrokers();
  return n === null ? `127.0.0.1:${PORTS.kafka}` : layoutFor(n).bootstrap;
}

/** Idempotent: starts what is not running, waits for both to be ready. */
export async function stackUp(log: Log, options: { kafkaBrokers?: string | number } = {}): Promise<UpResult> {
  const started = Date.now();
  const ext = externalServers();
  const brokers = await localBrokerCount(options.kafkaBrokers);
  if (brokers > 1 && ext.kafka) {
    throw new Error(
      `KAFKA_BROKERS is set (${process.env.KAFKA_BROKERS}): Stint uses that cluster and starts no brokers; unset it to run ${brokers} local ones`,
    );
  }
  if (brokers === 1 && !ext.kafka && (await runningClusterBrokers()) !== null) {
    throw new Error('a local Kafka cluster is running here: `stint stack down` first to run the single node');
  }
  const [clickhouse, kafka] = await Promise.all([
    ext.clickhouse ? ('external' as const) : clickhouseUp(log),
    ext.kafka ? ('external' as const) : brokers > 1 ? kafkaClusterUp(brokers, log) : kafkaUp(log),
  ]);
  const kafkaBootstrap = brokers > 1 ? layoutFor(brokers).bootstrap : `127.0.0.1:${PORTS.kafka}`;
  return { kafka, clickhouse, kafkaBrokers: brokers, kafkaBootstrap, ms: Date.now() - started };
}

/** Stops the single-node Kafka and the local cluster, whichever runs, and ClickHouse. */
export async function stackDown(): Promise<{ kafka: boolean; clickhouse: boolean }> {
  const [single, cluster, clickhouse] = await Promise.all([
    kafkaDown(),
    kafkaClusterDown(),
    clickhouseDown(),
  ]);
  return { kafka: single || cluster, clickhouse };
}

export async function stackStatus() {
  const ext = externalServers();
  const cluster = ext.kafka ? null : await clusterStatus();
  return {
    kafka: ext.kafka
      ? { external: process.env.KAFKA_BROKERS }
      : cluster?.running
        ? { cluster }
        : await kafkaStatus(),
    clickhouse: ext.clickhouse ? { external: true } : await clickhouseStatus(),
  };
}

export function stackLogs(): Record<string, string> {
  return {
    ...clusterLogs(),
    kafka: kafkaPaths().log,
    clickhouse: clickhousePaths().log,
    'clickhouse errors': clickhousePaths().errLog,
  };
}

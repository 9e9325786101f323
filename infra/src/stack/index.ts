import {
  clickhouseDown,
  clickhousePaths,
  clickhouseStatus,
  clickhouseUp,
  clickhouseVersion,
} from './clickhouse.ts';
import {
  chClusterLayout,
  clickhouseClusterDown,
  clickhouseClusterLogs,
  clickhouseClusterStatus,
  clickhouseClusterUp,
  clickhouseNodeDown,
  clickhouseNodeUp,
  recordedClickHouseCluster,
} from './clickhouse-cluster.ts';
import { type ClickHouseClusterLayout, parseClusterShape } from './clickhouse-cluster-layout.ts';
import { kafkaDown, kafkaPaths, kafkaStatus, kafkaUp, kafkaVersion } from './kafka.ts';
import {
  brokerDown,
  brokerKill,
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

export type { ClickHouseNode } from './clickhouse-cluster-layout.ts';
export {
  clickhouseClusterLayout,
  clusterConfigXml,
  DEFAULT_CLUSTER_NAME,
  parseClusterShape,
  shardUrls,
} from './clickhouse-cluster-layout.ts';
export { clusterLayout, clusterReplication, parseBrokerCount } from './kafka-layout.ts';
export { serviceNodeFlags } from './node-flags.ts';
export { PORTS, REPO_ROOT, stintHome } from './paths.ts';
export { zookeeperDown, zookeeperStatus, zookeeperUp } from './zookeeper.ts';
export {
  brokerDown,
  brokerKill,
  brokerUp,
  clickhouseClusterDown,
  clickhouseClusterStatus,
  clickhouseClusterUp,
  clickhouseDown,
  clickhouseNodeDown,
  clickhouseNodeUp,
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
  recordedClickHouseCluster,
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
  /** The local ClickHouse cluster, when ClickHouse runs as one (`--clickhouse-cluster`). */
  clickhouseCluster: ClickHouseClusterLayout | null;
  ms: number;
}

/** The local ClickHouse cluster to run: `--clickhouse-cluster [SxR]`, else the one running here. */
async function localClickHouseCluster(flag?: string | boolean): Promise<ClickHouseClusterLayout | null> {
  if (flag !== undefined && flag !== false) {
    const { shards, replicas } = parseClusterShape(flag);
    return chClusterLayout(shards, replicas);
  }
  return (await clickhouseClusterStatus())?.running ? recordedClickHouseCluster() : null;
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
export async function stackUp(
  log: Log,
  options: { kafkaBrokers?: string | number; clickhouseCluster?: string | boolean } = {},
): Promise<UpResult> {
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
  const chCluster = await localClickHouseCluster(options.clickhouseCluster);
  if (chCluster && ext.clickhouse) {
    throw new Error(
      `CLICKHOUSE_URL is set (${process.env.CLICKHOUSE_URL}): Stint uses that server and starts no cluster; unset it to run a local one`,
    );
  }
  const [clickhouse, kafka] = await Promise.all([
    ext.clickhouse
      ? ('external' as const)
      : chCluster
        ? clickhouseClusterUp(chCluster.shards, chCluster.replicas, log)
        : clickhouseUp(log),
    ext.kafka ? ('external' as const) : brokers > 1 ? kafkaClusterUp(brokers, log) : kafkaUp(log),
  ]);
  const kafkaBootstrap = brokers > 1 ? layoutFor(brokers).bootstrap : `127.0.0.1:${PORTS.kafka}`;
  return {
    kafka,
    clickhouse,
    kafkaBrokers: brokers,
    kafkaBootstrap,
    clickhouseCluster: chCluster,
    ms: Date.now() - started,
  };
}

/** Stops the single-node Kafka and the local cluster, whichever runs, and ClickHouse. */
export async function stackDown(): Promise<{ kafka: boolean; clickhouse: boolean }> {
  const [single, cluster, clickhouse, chCluster] = await Promise.all([
    kafkaDown(),
    kafkaClusterDown(),
    clickhouseDown(),
    clickhouseClusterDown(),
  ]);
  return { kafka: single || cluster, clickhouse: clickhouse || chCluster };
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
    clickhouse: ext.clickhouse
      ? { external: true }
      : ((await clickhouseClusterStatus().then((c) => (c?.running ? { cluster: c } : null))) ??
        (await clickhouseStatus())),
  };
}

export function stackLogs(): Record<string, string> {
  return {
    ...clusterLogs(),
    ...clickhouseClusterLogs(),
    kafka: kafkaPaths().log,
    clickhouse: clickhousePaths().log,
    'clickhouse errors': clickhousePaths().errLog,
  };
}

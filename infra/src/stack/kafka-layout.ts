/**
 * The local multi-broker Kafka cluster as data: node ids, ports, folders and each node's
 * server.properties. Pure (no I/O), so the layout rules are tested alone; `kafka-cluster.ts` starts it.
 *
 * Topology: one KRaft controller (node id 100, on the controller port) and N brokers (node ids 1..N).
 * Not N combined broker+controller nodes, because the faults this cluster exists to exercise are
 * broker losses: with a controller that outlives them, a lost broker is fenced within
 * `broker.session.timeout.ms`, its partitions get new leaders and shrunk ISRs, and with fewer live
 * brokers than min.insync.replicas the survivors refuse acks=all writes with NOT_ENOUGH_REPLICAS, as a
 * production cluster with its own controller quorum does. Three combined nodes would lose the
 * metadata quorum together with the second broker, and acks=all writes would then hang until their
 * timeout instead. The price is one small JVM more and a controller that is a single point of failure
 * for leader elections (brokers keep serving without it); this cluster is for development and tests,
 * production points KAFKA_BROKERS at a cluster of its own.
 */

import { defaultReplication } from '../kafka/replication.ts';

export const CONTROLLER_NODE_ID = 100;

export interface KafkaNode {
  role: 'broker' | 'controller';
  nodeId: number;
  /** The client port (brokers) or the controller port (controller). */
  port: number;
  /** Folder of this node: server.properties, pid, log, and `data/`. */
  dir: string;
}

export interface ClusterLayout {
  brokers: KafkaNode[];
  controller: KafkaNode;
  /** host:port,... of every broker, for KAFKA_BROKERS. */
  bootstrap: string;
}

/** The broker count of `--kafka-brokers` / STINT_KAFKA_BROKER_COUNT: a whole number from 1 to 9. */
export function parseBrokerCount(value: string | number, source = '--kafka-brokers'): number {
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (String(value).trim() === '' || !Number.isInteger(n) || n < 1 || n > 9) {
    throw new Error(
      `${source}: the number of Kafka brokers must be a whole number from 1 to 9, not "${value}"`,
    );
  }
  return n;
}

/**
 * Broker i (1-based) listens on `kafkaPort + 2 (i - 1)`: 19092, 19094, 19096 by default, so broker 1 is
 * where the single-node default is and the controller keeps 19093.
 */
export function clusterLayout(o: {
  brokers: number;
  kafkaPort: number;
  controllerPort: number;
  dir: string;
}): ClusterLayout {
  const count = parseBrokerCount(o.brokers);
  if (count < 2) throw new Error('a Kafka cluster has at least 2 brokers (1 is the single-node default)');
  const brokers: KafkaNode[] = Array.from({ length: count }, (_, i) => ({
    role: 'broker',
    nodeId: i + 1,
    port: o.kafkaPort + 2 * i,
    dir: `${o.dir}/broker-${i + 1}`,
  }));
  const controller: KafkaNode = {
    role: 'controller',
    nodeId: CONTROLLER_NODE_ID,
    port: o.controllerPort,
    dir: `${o.dir}/controller`,
  };
  const ports = [...brokers, controller].map((n) => n.port);
  const bad = ports.filter((p) => !Number.isInteger(p) || p < 1 || p > 65535);
  if (bad.length > 0) throw new Error(`Kafka cluster ports out of range: ${bad.join(', ')}`);
  const clash = ports.find((p, i) => ports.indexOf(p) !== i);
  if (clash !== undefined) {
    throw new Error(
      `Kafka cluster port ${clash} is used twice: brokers take STINT_KAFKA_PORT + 0, 2, 4, … (${brokers
        .map((b) => b.port)
        .join(', ')}), the controller STINT_KAFKA_CONTROLLER_PORT (${o.controllerPort})`,
    );
  }
  return { brokers, controller, bootstrap: brokers.map((b) => `127.0.0.1:${b.port}`).join(',') };
}

/** Replication of the cluster's internal topics and broker defaults: the same rule as Stint's topics. */
export const clusterReplication = defaultReplication;

export function nodeProperties(layout: ClusterLayout, node: KafkaNode): string {
  const voters = `controller.quorum.voters=${layout.controller.nodeId}@127.0.0.1:${layout.controller.port}`;
  const common = [
    '# written by `stint stack up --kafka-brokers`; edit infra/src/stack/kafka-layout.ts instead',
    `node.id=${node.nodeId}`,
    voters,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${node.dir}/data`,
  ];
  if (node.role === 'controller') {
    return [
      ...common,
      'process.roles=controller',
      `listeners=CONTROLLER://127.0.0.1:${node.port}`,
      // A SIGKILLed broker is fenced (its partitions get new leaders) after this many ms without a heartbeat.
      'broker.session.timeout.ms=6000',
      '',
    ].join('\n');
  }
  const { replicationFactor, minInsync } = clusterReplication(layout.brokers.length);
  return [
    ...common,
    'process.roles=broker',
    `listeners=PLAINTEXT://127.0.0.1:${node.port}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${node.port}`,
    'inter.broker.listener.name=PLAINTEXT',
    'broker.heartbeat.interval.ms=1000',
    'num.partitions=4',
    `default.replication.factor=${replicationFactor}`,
    `min.insync.replicas=${minInsync}`,
    // The consumer groups' offsets must survive a broker loss like the events do.
    `offsets.topic.replication.factor=${replicationFactor}`,
    'offsets.topic.num.partitions=4',
    `transaction.state.log.replication.factor=${replicationFactor}`,
    `transaction.state.log.min.isr=${minInsync}`,
    `share.coordinator.state.topic.replication.factor=${replicationFactor}`,
    `share.coordinator.state.topic.min.isr=${minInsync}`,
    'unclean.leader.election.enable=false',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'log.retention.hours=168',
    'log.segment.bytes=134217728',
    'num.io.threads=2',
    'num.network.threads=2',
    '',
  ].join('\n');
}

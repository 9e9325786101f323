import { describe, expect, it } from 'vitest';
import {
  CONTROLLER_NODE_ID,
  clusterLayout,
  nodeProperties,
  parseBrokerCount,
} from '../src/stack/kafka-layout.ts';

const props = (text: string) =>
  Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

describe('parseBrokerCount', () => {
  it('accepts 1 to 9', () => {
    expect(parseBrokerCount('3')).toBe(3);
    expect(parseBrokerCount(1)).toBe(1);
    expect(parseBrokerCount(' 9 ')).toBe(9);
  });
  it('refuses anything else with the option named', () => {
    for (const bad of ['0', '-1', '1.5', 'three', '', '10']) {
      expect(() => parseBrokerCount(bad)).toThrow(
        `--kafka-brokers: the number of Kafka brokers must be a whole number from 1 to 9, not "${bad}"`,
      );
    }
    expect(() => parseBrokerCount('0', 'STINT_KAFKA_BROKER_COUNT')).toThrow(/^STINT_KAFKA_BROKER_COUNT: /);
  });
});

describe('clusterLayout', () => {
  const layout = clusterLayout({
    brokers: 3,
    kafkaPort: 19092,
    controllerPort: 19093,
    dir: '/h/kafka-cluster',
  });

  it('brokers 1..n two ports apart, one controller, own folders', () => {
    expect(layout.brokers.map((b) => [b.nodeId, b.port, b.dir])).toEqual([
      [1, 19092, '/h/kafka-cluster/broker-1'],
      [2, 19094, '/h/kafka-cluster/broker-2'],
      [3, 19096, '/h/kafka-cluster/broker-3'],
    ]);
    expect(layout.controller).toEqual({
      role: 'controller',
      nodeId: CONTROLLER_NODE_ID,
      port: 19093,
      dir: '/h/kafka-cluster/controller',
    });
    expect(layout.bootstrap).toBe('127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096');
  });

  it('refuses clashing ports, one broker, and ports out of range', () => {
    expect(() => clusterLayout({ brokers: 3, kafkaPort: 19092, controllerPort: 19094, dir: '/h' })).toThrow(
      /port 19094 is used twice/,
    );
    expect(() => clusterLayout({ brokers: 1, kafkaPort: 19092, controllerPort: 19093, dir: '/h' })).toThrow(
      /at least 2 brokers/,
    );
    expect(() => clusterLayout({ brokers: 3, kafkaPort: 65534, controllerPort: 19093, dir: '/h' })).toThrow(
      /out of range: 65536, 65538/,
    );
  });

  it('broker properties: own id, listener and log dir; replicated defaults; the one controller as voter', () => {
    const b2 = props(nodeProperties(layout, layout.brokers[1] as never));
    expect(b2).toMatchObject({
      'process.roles': 'broker',
      'node.id': '2',
      listeners: 'PLAINTEXT://127.0.0.1:19094',
      'advertised.listeners': 'PLAINTEXT://127.0.0.1:19094',
      'log.dirs': '/h/kafka-cluster/broker-2/data',
      'controller.quorum.voters': `${CONTROLLER_NODE_ID}@127.0.0.1:19093`,
      'default.replication.factor': '3',
      'min.insync.replicas': '2',
      'offsets.topic.replication.factor': '3',
      'transaction.state.log.min.isr': '2',
      'unclean.leader.election.enable': 'false',
    });
    const c = props(nodeProperties(layout, layout.controller));
    expect(c).toMatchObject({
      'process.roles': 'controller',
      'node.id': String(CONTROLLER_NODE_ID),
      listeners: 'CONTROLLER://127.0.0.1:19093',
      'log.dirs': '/h/kafka-cluster/controller/data',
    });
    expect(c['advertised.listeners']).toBeUndefined();
  });

  it('two brokers: replication 2, min.insync.replicas 1', () => {
    const two = clusterLayout({ brokers: 2, kafkaPort: 22092, controllerPort: 22093, dir: '/h' });
    expect(props(nodeProperties(two, two.brokers[0] as never))).toMatchObject({
      'default.replication.factor': '2',
      'min.insync.replicas': '1',
      'offsets.topic.replication.factor': '2',
    });
  });
});

import { describe, expect, it } from 'vitest';
import { replicationFromEnv, topicReplication } from '../src/kafka/replication.ts';

const single = { liveBrokers: 1, defaultReplicationFactor: 1, defaultMinInsync: 1 };
/** The local cluster's brokers (kafka-layout.ts) set both defaults. */
const local3 = { liveBrokers: 3, defaultReplicationFactor: 3, defaultMinInsync: 2 };
/** A stock external cluster: Kafka's own defaults are 1 and 1. */
const stock = (liveBrokers: number) => ({ liveBrokers, defaultReplicationFactor: 1, defaultMinInsync: 1 });

describe('topicReplication', () => {
  it('single broker: replication 1 and no topic config, exactly as before', () => {
    expect(topicReplication('t', single)).toEqual({ replicationFactor: 1, configEntries: [] });
  });

  it('three or more brokers: replication 3 and min.insync.replicas 2', () => {
    const three = { replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] };
    expect(topicReplication('t', local3)).toEqual(three);
    expect(topicReplication('t', stock(3))).toEqual(three);
    expect(topicReplication('t', stock(7))).toEqual(three);
  });

  it('two brokers: replication 2, min.insync.replicas 1', () => {
    expect(topicReplication('t', stock(2))).toEqual({
      replicationFactor: 2,
      configEntries: [{ name: 'min.insync.replicas', value: '1' }],
    });
  });

  it('settings override the defaults', () => {
    expect(topicReplication('t', stock(5), { replicationFactor: 5, minInsyncReplicas: 3 })).toEqual({
      replicationFactor: 5,
      configEntries: [{ name: 'min.insync.replicas', value: '3' }],
    });
    expect(topicReplication('t', local3, { replicationFactor: 2, minInsyncReplicas: 1 })).toEqual({
      replicationFactor: 2,
      configEntries: [{ name: 'min.insync.replicas', value: '1' }],
    });
    // An explicit 1 on one broker is written down, not left to the broker.
    expect(topicReplication('t', single, { minInsyncReplicas: 1 }).configEntries).toEqual([
      { name: 'min.insync.replicas', value: '1' },
    ]);
  });

  it('brokers configured for more get more', () => {
    expect(
      topicReplication('t', { liveBrokers: 5, defaultReplicationFactor: 4, defaultMinInsync: 3 }),
    ).toEqual({
      replicationFactor: 4,
      configEntries: [{ name: 'min.insync.replicas', value: '3' }],
    });
  });

  it('refuses what the live brokers cannot hold, naming the setting', () => {
    // The local 3-broker cluster with two brokers down at create time.
    expect(() => topicReplication('stint.events', { ...local3, liveBrokers: 1 })).toThrow(
      "topic stint.events: replication factor 3 (the brokers' default.replication.factor) needs 3 live brokers, the cluster has 1",
    );
    expect(() => topicReplication('t', stock(2), { replicationFactor: 3 })).toThrow(
      /replication factor 3 \(KAFKA_REPLICATION_FACTOR\) needs 3 live brokers, the cluster has 2/,
    );
    expect(() => topicReplication('t', stock(5), { minInsyncReplicas: 4 })).toThrow(
      /min.insync.replicas 4 \(KAFKA_MIN_INSYNC_REPLICAS\) is above the replication factor 3: every acks=all write would be refused/,
    );
    // Fewer live brokers than min.insync.replicas.
    expect(() => topicReplication('t', stock(1), { minInsyncReplicas: 2 })).toThrow(
      'topic t: min.insync.replicas 2 (KAFKA_MIN_INSYNC_REPLICAS) needs 2 live brokers, the cluster has 1: every acks=all write would be refused',
    );
    expect(() => topicReplication('t', { ...local3, liveBrokers: 1 }, { replicationFactor: 1 })).toThrow(
      "min.insync.replicas 2 (the brokers' min.insync.replicas) needs 2 live brokers, the cluster has 1",
    );
    expect(() =>
      topicReplication(
        't',
        { liveBrokers: 4, defaultReplicationFactor: 1, defaultMinInsync: 3 },
        { replicationFactor: 2 },
      ),
    ).toThrow(/min.insync.replicas 3 \(the brokers' min.insync.replicas\) is above the replication factor 2/);
    expect(() => topicReplication('t', { ...single, liveBrokers: 0 })).toThrow(/no live brokers/);
  });
});

describe('replicationFromEnv', () => {
  it('reads both variables, ignores empty ones, refuses junk', () => {
    expect(replicationFromEnv({})).toEqual({});
    expect(replicationFromEnv({ KAFKA_REPLICATION_FACTOR: '3', KAFKA_MIN_INSYNC_REPLICAS: ' ' })).toEqual({
      replicationFactor: 3,
    });
    expect(replicationFromEnv({ KAFKA_MIN_INSYNC_REPLICAS: '2' })).toEqual({ minInsyncReplicas: 2 });
    expect(() => replicationFromEnv({ KAFKA_REPLICATION_FACTOR: 'three' })).toThrow(
      'KAFKA_REPLICATION_FACTOR: a whole number from 1 to 32, not "three"',
    );
    expect(() => replicationFromEnv({ KAFKA_MIN_INSYNC_REPLICAS: '0' })).toThrow(/KAFKA_MIN_INSYNC_REPLICAS/);
  });
});

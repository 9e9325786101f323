/**
 * How a topic Stint creates is replicated: pure rules, tested alone (ensureTopic does the I/O).
 *
 * Default, from the cluster at creation time: one broker → replication factor 1 and no topic config
 * (the single-node default, unchanged); two → 2 and min.insync.replicas 1; three or more → 3 and
 * min.insync.replicas 2, so an acks=all write (the collector's) is on two replicas before it is
 * acknowledged and any one broker can be lost. Brokers configured for more (default.replication.factor,
 * min.insync.replicas) get more. KAFKA_REPLICATION_FACTOR and KAFKA_MIN_INSYNC_REPLICAS override it.
 * An existing topic keeps its own settings.
 */

export interface ReplicationSettings {
  replicationFactor?: number;
  minInsyncReplicas?: number;
}

export interface TopicReplication {
  replicationFactor: number;
  /** Topic-level configs to create the topic with (empty: the broker's defaults). */
  configEntries: { name: string; value: string }[];
}

export function defaultReplication(brokers: number): { replicationFactor: number; minInsync: number } {
  const replicationFactor = Math.max(1, Math.min(3, brokers));
  return { replicationFactor, minInsync: replicationFactor >= 3 ? 2 : 1 };
}

function positiveInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 32)
    throw new Error(`${name}: a whole number from 1 to 32, not "${raw}"`);
  return n;
}

/** KAFKA_REPLICATION_FACTOR and KAFKA_MIN_INSYNC_REPLICAS, when set. */
export function replicationFromEnv(env: NodeJS.ProcessEnv = process.env): ReplicationSettings {
  const replicationFactor = positiveInt(env, 'KAFKA_REPLICATION_FACTOR');
  const minInsyncReplicas = positiveInt(env, 'KAFKA_MIN_INSYNC_REPLICAS');
  return {
    ...(replicationFactor === undefined ? {} : { replicationFactor }),
    ...(minInsyncReplicas === undefined ? {} : { minInsyncReplicas }),
  };
}

/** What ensureTopic learns from the cluster before creating a topic. */
export interface ClusterFacts {
  /** Brokers in the cluster's metadata now (fenced and dead ones are not). */
  liveBrokers: number;
  /** The brokers' own `default.replication.factor` and `min.insync.replicas` (1 and 1 when unreadable). */
  defaultReplicationFactor: number;
  defaultMinInsync: number;
}

/**
 * The replication of a new topic. Replication factor: KAFKA_REPLICATION_FACTOR, else the larger of the
 * brokers' default and min(3, live brokers). min.insync.replicas: KAFKA_MIN_INSYNC_REPLICAS, else the
 * larger of the brokers' default and 2 for three or more replicas (1 below). Throws a message naming
 * the setting when the cluster cannot hold it: more replicas than live brokers cannot be created, and
 * min.insync.replicas above the replicas or the live brokers would refuse every acks=all write (the
 * collector would answer nothing but 503).
 */
export function topicReplication(
  topic: string,
  cluster: ClusterFacts,
  settings: ReplicationSettings = {},
): TopicReplication {
  const brokers = cluster.liveBrokers;
  if (brokers < 1) throw new Error(`topic ${topic}: the Kafka cluster reports no live brokers`);
  const replicationFactor =
    settings.replicationFactor ??
    Math.max(cluster.defaultReplicationFactor, defaultReplication(brokers).replicationFactor);
  const rfSource =
    settings.replicationFactor === undefined
      ? "the brokers' default.replication.factor"
      : 'KAFKA_REPLICATION_FACTOR';
  if (replicationFactor > brokers) {
    throw new Error(
      `topic ${topic}: replication factor ${replicationFactor} (${rfSource}) needs ${replicationFactor} live brokers, the cluster has ${brokers}; start the missing brokers or set KAFKA_REPLICATION_FACTOR`,
    );
  }
  const minInsync =
    settings.minInsyncReplicas ??
    Math.max(cluster.defaultMinInsync, defaultReplication(replicationFactor).minInsync);
  const minSource =
    settings.minInsyncReplicas === undefined
      ? "the brokers' min.insync.replicas"
      : 'KAFKA_MIN_INSYNC_REPLICAS';
  if (minInsync > brokers) {
    throw new Error(
      `topic ${topic}: min.insync.replicas ${minInsync} (${minSource}) needs ${minInsync} live brokers, the cluster has ${brokers}: every acks=all write would be refused`,
    );
  }
  if (minInsync > replicationFactor) {
    throw new Error(
      `topic ${topic}: min.insync.replicas ${minInsync} (${minSource}) is above the replication factor ${replicationFactor}: every acks=all write would be refused`,
    );
  }
  // One replica and the brokers' defaults: exactly what Stint always created on the single node.
  if (replicationFactor === 1 && minInsync === 1 && settings.minInsyncReplicas === undefined) {
    return { replicationFactor, configEntries: [] };
  }
  return { replicationFactor, configEntries: [{ name: 'min.insync.replicas', value: String(minInsync) }] };
}

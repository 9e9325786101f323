/**
 * The local ClickHouse cluster as data: which server is which shard and replica, its ports and
 * folder, and the config every server gets (`remote_servers`, `macros`, `zookeeper`). Pure (no I/O),
 * so the layout rules are tested alone; `clickhouse-cluster.ts` starts it.
 *
 * Topology: S shards of R replicas (default 2 x 2), named `s<shard>r<replica>`. Server i (0-based,
 * shard-major) listens on HTTP base+10i, native TCP tcpBase+10i and inter-server HTTP tcpBase+9+10i,
 * so the first server takes the single node's ports and CLICKHOUSE_URL keeps its default. Every
 * server knows the whole cluster under one name; `internal_replication` is on: a Distributed insert
 * writes one replica of a shard and ZooKeeper's replication log carries it to the others.
 */

export const DEFAULT_CLUSTER_NAME = 'stint_cluster';

export interface ClickHouseNode {
  /** `s1r1`, `s1r2`, …: unique in the cluster, the `{replica}` macro. */
  name: string;
  shard: number;
  replica: number;
  http: number;
  tcp: number;
  interserver: number;
  dir: string;
}

export interface ClickHouseClusterLayout {
  name: string;
  shards: number;
  replicas: number;
  nodes: ClickHouseNode[];
  zookeeperPort: number;
}

/** `--clickhouse-cluster [SxR]`: shards x replicas, each from 1 to 4; `true` (no value) is 2x2. */
export function parseClusterShape(value: string | boolean): { shards: number; replicas: number } {
  if (value === true || value === '') return { shards: 2, replicas: 2 };
  const m = /^\s*(\d+)\s*x\s*(\d+)\s*$/i.exec(String(value));
  const shards = Number(m?.[1]);
  const replicas = Number(m?.[2]);
  if (!m || shards < 1 || shards > 4 || replicas < 1 || replicas > 4 || shards * replicas < 2) {
    throw new Error(
      `--clickhouse-cluster takes SHARDSxREPLICAS, each from 1 to 4 and two servers at least (for example 2x2), not ${JSON.stringify(value)}`,
    );
  }
  return { shards, replicas };
}

export function clickhouseClusterLayout(o: {
  name?: string;
  shards: number;
  replicas: number;
  httpPort: number;
  tcpPort: number;
  zookeeperPort: number;
  dir: string;
}): ClickHouseClusterLayout {
  const nodes: ClickHouseNode[] = [];
  for (let shard = 1; shard <= o.shards; shard++) {
    for (let replica = 1; replica <= o.replicas; replica++) {
      const i = nodes.length;
      const name = `s${shard}r${replica}`;
      nodes.push({
        name,
        shard,
        replica,
        http: o.httpPort + 10 * i,
        tcp: o.tcpPort + 10 * i,
        interserver: o.tcpPort + 9 + 10 * i,
        dir: `${o.dir}/${name}`,
      });
    }
  }
  return {
    name: o.name ?? DEFAULT_CLUSTER_NAME,
    shards: o.shards,
    replicas: o.replicas,
    nodes,
    zookeeperPort: o.zookeeperPort,
  };
}

/**
 * One server of each shard (the first replica), as migrations want them for an ALTER of a sharded
 * table (STINT_CLICKHOUSE_SHARD_URLS, infra/src/clickhouse/migrate.ts).
 */
export function shardUrls(layout: ClickHouseClusterLayout): string[] {
  return layout.nodes.filter((n) => n.replica === 1).map((n) => `http://127.0.0.1:${n.http}`);
}

/** The cluster part of one server's config.xml (inside `<yandex>`). */
export function clusterConfigXml(layout: ClickHouseClusterLayout, node: ClickHouseNode): string {
  const shards = Array.from({ length: layout.shards }, (_, s) => {
    const replicas = layout.nodes
      .filter((n) => n.shard === s + 1)
      .map((n) => `        <replica><host>127.0.0.1</host><port>${n.tcp}</port></replica>\n`)
      .join('');
    return `      <shard>\n        <internal_replication>true</internal_replication>\n${replicas}      </shard>\n`;
  }).join('');
  return `  <interserver_http_host>127.0.0.1</interserver_http_host>
  <interserver_http_port>${node.interserver}</interserver_http_port>
  <zookeeper>
    <node><host>127.0.0.1</host><port>${layout.zookeeperPort}</port></node>
    <session_timeout_ms>30000</session_timeout_ms>
  </zookeeper>
  <macros>
    <cluster>${layout.name}</cluster>
    <shard>${String(node.shard).padStart(2, '0')}</shard>
    <replica>${node.name}</replica>
  </macros>
  <remote_servers>
    <${layout.name}>
${shards}    </${layout.name}>
  </remote_servers>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
`;
}

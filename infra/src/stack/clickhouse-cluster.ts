/**
 * The local ClickHouse cluster (`stint stack up --clickhouse-cluster [SxR]`): ZooKeeper, then S x R
 * servers of the same ClickHouse binary as the single node, each with its own ports, folder and log
 * under <STINT_HOME>/clickhouse-cluster/<name>/. The layout is in clickhouse-cluster-layout.ts. The
 * single node (clickhouse.ts) and the cluster cannot run at once: server s1r1 takes its ports.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { clickhousePaths, httpOk, serverUp } from './clickhouse.ts';
import {
  type ClickHouseClusterLayout,
  type ClickHouseNode,
  clickhouseClusterLayout,
  clusterConfigXml,
  DEFAULT_CLUSTER_NAME,
} from './clickhouse-cluster-layout.ts';
import { PORTS, stintHome } from './paths.ts';
import { readPid, stopDaemon } from './process.ts';
import { ZOOKEEPER_PORT, zookeeperDown, zookeeperOk, zookeeperPaths, zookeeperUp } from './zookeeper.ts';

export function clickhouseClusterDir(home = stintHome()): string {
  return `${home}/clickhouse-cluster`;
}

const stateFile = () => `${clickhouseClusterDir()}/cluster.json`;

export function chClusterLayout(shards: number, replicas: number): ClickHouseClusterLayout {
  return clickhouseClusterLayout({
    name: process.env.STINT_CLICKHOUSE_CLUSTER || DEFAULT_CLUSTER_NAME,
    shards,
    replicas,
    httpPort: PORTS.clickhouseHttp,
    tcpPort: PORTS.clickhouseTcp,
    zookeeperPort: ZOOKEEPER_PORT,
    dir: clickhouseClusterDir(),
  });
}

/** The layout of the last `stack up --clickhouse-cluster` in this STINT_HOME, if any. */
export function recordedClickHouseCluster(): ClickHouseClusterLayout | null {
  const file = stateFile();
  if (!existsSync(file)) return null;
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as { shards?: unknown; replicas?: unknown };
    if (typeof s.shards !== 'number' || typeof s.replicas !== 'number') return null;
    return chClusterLayout(s.shards, s.replicas);
  } catch {
    return null;
  }
}

export const nodeServerPaths = (node: ClickHouseNode) => clickhousePaths(stintHome(), node.dir);

function nodeUp(layout: ClickHouseClusterLayout, node: ClickHouseNode, log: (m: string) => void) {
  return serverUp(
    `ClickHouse ${node.name}`,
    { paths: nodeServerPaths(node), http: node.http, tcp: node.tcp, extra: clusterConfigXml(layout, node) },
    log,
    90_000,
  );
}

/** Idempotent: ZooKeeper, then every server (two at a time), each ready when it answers queries. */
export async function clickhouseClusterUp(
  shards: number,
  replicas: number,
  log: (m: string) => void,
): Promise<'started' | 'running'> {
  const recorded = recordedClickHouseCluster();
  if (recorded && (recorded.shards !== shards || recorded.replicas !== replicas)) {
    if ((await clickhouseClusterStatus())?.running) {
      throw new Error(
        `a ${recorded.shards}x${recorded.replicas} ClickHouse cluster is running here; \`stint stack down\` first to run ${shards}x${replicas}`,
      );
    }
  }
  const single = readPid(clickhousePaths().pid);
  if (single !== null) {
    throw new Error(
      `the single-node ClickHouse is running (pid ${single}) on port ${PORTS.clickhouseHttp}, which server s1r1 needs: \`stint stack down\` first`,
    );
  }
  const layout = chClusterLayout(shards, replicas);
  mkdirSync(clickhouseClusterDir(), { recursive: true });
  writeFileSync(stateFile(), `${JSON.stringify({ name: layout.name, shards, replicas })}\n`);
  const zk = await zookeeperUp(log);
  const states: string[] = [zk];
  for (let i = 0; i < layout.nodes.length; i += 2) {
    states.push(...(await Promise.all(layout.nodes.slice(i, i + 2).map((n) => nodeUp(layout, n, log)))));
  }
  return states.every((s) => s === 'running') ? 'running' : 'started';
}

/** Starts one stopped server of the recorded cluster again (fault tests). */
export async function clickhouseNodeUp(
  name: string,
  log: (m: string) => void,
): Promise<'started' | 'running'> {
  const layout = recordedClickHouseCluster();
  const node = layout?.nodes.find((n) => n.name === name);
  if (!layout || !node)
    throw new Error(`no ClickHouse server ${name} here: \`stint stack up --clickhouse-cluster\` first`);
  return nodeUp(layout, node, log);
}

export function clickhouseNodeDown(name: string): Promise<boolean> {
  const node = recordedClickHouseCluster()?.nodes.find((n) => n.name === name);
  return node ? stopDaemon(nodeServerPaths(node).pid, 30_000) : Promise.resolve(false);
}

/** Stops every server, then ZooKeeper. */
export async function clickhouseClusterDown(): Promise<boolean> {
  const layout = recordedClickHouseCluster();
  const stopped = layout
    ? await Promise.all(layout.nodes.map((n) => stopDaemon(nodeServerPaths(n).pid, 30_000)))
    : [];
  stopped.push(await zookeeperDown());
  return stopped.some(Boolean);
}

export async function clickhouseClusterStatus() {
  const layout = recordedClickHouseCluster();
  if (!layout) return null;
  const nodes = await Promise.all(
    layout.nodes.map(async (n) => {
      const pid = readPid(nodeServerPaths(n).pid);
      return {
        name: n.name,
        shard: n.shard,
        replica: n.replica,
        http: n.http,
        pid,
        ready: pid !== null && (await httpOk(n.http)),
      };
    }),
  );
  const zkPid = readPid(zookeeperPaths().pid);
  return {
    name: layout.name,
    shards: layout.shards,
    replicas: layout.replicas,
    running: zkPid !== null || nodes.some((n) => n.pid !== null),
    ready: nodes.every((n) => n.ready),
    zookeeper: { pid: zkPid, port: ZOOKEEPER_PORT, ready: zkPid !== null && (await zookeeperOk()) },
    nodes,
  };
}

export function clickhouseClusterLogs(): Record<string, string> {
  const layout = recordedClickHouseCluster();
  if (!layout) return {};
  return {
    zookeeper: zookeeperPaths().log,
    ...Object.fromEntries(
      layout.nodes.map((n) => [`clickhouse ${n.name} errors`, nodeServerPaths(n).errLog]),
    ),
  };
}

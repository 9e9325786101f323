/**
 * The local multi-broker Kafka (`stint stack up --kafka-brokers 3`): one KRaft controller and N
 * brokers on loopback, from the same Maven jars as the single node, each with its own node id, port,
 * folder and log under <STINT_HOME>/kafka-cluster/. The layout and the reasons for it are in
 * kafka-layout.ts. The single-node Kafka (kafka.ts) is left as it is; the two cannot run at once
 * (broker 1 takes the single node's port).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createKafka } from '../kafka/index.ts';
import { ensureKafkaJars, javaCommand, kafkaJavaArgs, kafkaPaths, writeLog4j } from './kafka.ts';
import { type ClusterLayout, clusterLayout, type KafkaNode, nodeProperties } from './kafka-layout.ts';
import { PORTS, stintHome } from './paths.ts';
import { isAlive, portOpen, readPid, run, sleep, startDaemon, stopDaemon, waitUntil } from './process.ts';

export function clusterPaths(home = stintHome()) {
  const dir = `${home}/kafka-cluster`;
  return {
    dir,
    state: `${dir}/cluster.json`,
    clusterId: `${dir}/cluster-id`,
    log4j: `${dir}/log4j2.properties`,
  };
}

export function nodePaths(node: KafkaNode) {
  return {
    config: `${node.dir}/server.properties`,
    data: `${node.dir}/data`,
    pid: `${node.dir}/kafka.pid`,
    log: `${node.dir}/kafka.log`,
  };
}

export function layoutFor(brokers: number): ClusterLayout {
  return clusterLayout({
    brokers,
    kafkaPort: PORTS.kafka,
    controllerPort: PORTS.kafkaController,
    dir: clusterPaths().dir,
  });
}

/** The broker count of the last `stack up --kafka-brokers N` in this STINT_HOME, if any. */
export function recordedBrokerCount(): number | null {
  const file = clusterPaths().state;
  if (!existsSync(file)) return null;
  try {
    const n = (JSON.parse(readFileSync(file, 'utf8')) as { brokers?: unknown }).brokers;
    return typeof n === 'number' && Number.isInteger(n) && n >= 2 ? n : null;
  } catch {
    return null;
  }
}

const heap = (node: KafkaNode) =>
  node.role === 'controller' ? ['-Xms64m', '-Xmx256m'] : ['-Xms128m', '-Xmx512m'];

function clusterId(): string {
  const p = clusterPaths();
  if (existsSync(p.clusterId)) return readFileSync(p.clusterId, 'utf8').trim();
  const id = Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
  mkdirSync(p.dir, { recursive: true });
  writeFileSync(p.clusterId, id);
  return id;
}

function prepareNode(layout: ClusterLayout, node: KafkaNode, id: string, log: (m: string) => void): void {
  const p = nodePaths(node);
  mkdirSync(p.data, { recursive: true });
  writeFileSync(p.config, nodeProperties(layout, node));
  if (existsSync(`${p.data}/meta.properties`)) return;
  log(`formatting Kafka ${node.role} ${node.nodeId} storage (first run only)…`);
  run(
    javaCommand(),
    kafkaJavaArgs('kafka.tools.StorageTool', ['format', '-t', id, '-c', p.config], {
      log4j: clusterPaths().log4j,
      heap: ['-Xmx256m'],
    }),
    `Kafka storage format failed for ${node.role} ${node.nodeId}`,
    { quiet: true },
  );
}

export interface NodeStatus {
  role: 'broker' | 'controller';
  nodeId: number;
  port: number;
  pid: number | null;
  running: boolean;
  ready: boolean;
  log: string;
}

export async function nodeStatus(node: KafkaNode): Promise<NodeStatus> {
  const p = nodePaths(node);
  const pid = readPid(p.pid);
  return {
    role: node.role,
    nodeId: node.nodeId,
    port: node.port,
    pid,
    running: pid !== null,
    ready: pid !== null && (await portOpen(node.port)),
    log: p.log,
  };
}

export async function clusterStatus(brokers = recordedBrokerCount()) {
  if (brokers === null) return null;
  const layout = layoutFor(brokers);
  const nodes = await Promise.all([layout.controller, ...layout.brokers].map(nodeStatus));
  return {
    brokers,
    bootstrap: layout.bootstrap,
    running: nodes.some((n) => n.running),
    ready: nodes.every((n) => n.ready),
    nodes,
  };
}

/** Starts one node of the cluster when it is not running and waits for its port. */
export async function nodeUp(
  layout: ClusterLayout,
  node: KafkaNode,
  log: (m: string) => void,
  timeoutMs = 90_000,
): Promise<'started' | 'running'> {
  const p = nodePaths(node);
  const name = `Kafka ${node.role} ${node.nodeId}`;
  if (readPid(p.pid) !== null) {
    await waitUntil(name, () => portOpen(node.port), timeoutMs, p.log);
    return 'running';
  }
  if (await portOpen(node.port)) {
    throw new Error(
      `port ${node.port} (${name}) is taken by another process${
        node.nodeId === 1 ? ' (the single-node Kafka? `stint stack down` stops it)' : ''
      }; stop it or set STINT_KAFKA_PORT / STINT_KAFKA_CONTROLLER_PORT`,
    );
  }
  prepareNode(layout, node, clusterId(), log);
  const pid = startDaemon(
    javaCommand(),
    kafkaJavaArgs('kafka.Kafka', [p.config], { log4j: clusterPaths().log4j, heap: heap(node) }),
    { pidFile: p.pid, logFile: p.log },
  );
  await waitUntil(
    name,
    () => portOpen(node.port),
    timeoutMs,
    p.log,
    () => isAlive(pid),
  );
  return 'started';
}

/** Broker `nodeId` of the recorded cluster (for fault tests that kill and restart one). */
export async function brokerUp(nodeId: number, log: (m: string) => void): Promise<'started' | 'running'> {
  const brokers = recordedBrokerCount();
  if (brokers === null) throw new Error('no Kafka cluster here: `stint stack up --kafka-brokers N` first');
  const layout = layoutFor(brokers);
  const node = layout.brokers.find((b) => b.nodeId === nodeId);
  if (!node) throw new Error(`the cluster has brokers 1 to ${brokers}, not ${nodeId}`);
  return nodeUp(layout, node, log);
}

export function brokerDown(nodeId: number): Promise<boolean> {
  const brokers = recordedBrokerCount();
  const node = brokers === null ? undefined : layoutFor(brokers).brokers.find((b) => b.nodeId === nodeId);
  if (!node) return Promise.resolve(false);
  return stopDaemon(nodePaths(node).pid, 30_000);
}

/**
 * SIGKILLs broker `nodeId` of the recorded cluster (a crash: no controlled shutdown, no leadership
 * hand-over) and waits until it is gone; false when it was not running. `brokerUp` starts it again.
 */
export async function brokerKill(nodeId: number): Promise<boolean> {
  const brokers = recordedBrokerCount();
  const node = brokers === null ? undefined : layoutFor(brokers).brokers.find((b) => b.nodeId === nodeId);
  if (!node) return false;
  const file = nodePaths(node).pid;
  const pid = readPid(file);
  if (pid === null) return false;
  process.kill(pid, 'SIGKILL');
  while (isAlive(pid)) await sleep(100);
  rmSync(file, { force: true });
  return true;
}

/** Idempotent: the controller first, then every broker; ready when every broker's port answers. */
export async function kafkaClusterUp(
  brokers: number,
  log: (m: string) => void,
  timeoutMs = 90_000,
): Promise<'started' | 'running'> {
  const recorded = recordedBrokerCount();
  const layout = layoutFor(brokers);
  if (recorded !== null && recorded !== brokers) {
    const status = await clusterStatus(recorded);
    if (status?.running) {
      throw new Error(
        `a ${recorded}-broker Kafka cluster is running here; \`stint stack down\` first to run ${brokers}`,
      );
    }
  }
  const single = readPid(kafkaPaths().pid);
  if (single !== null) {
    throw new Error(
      `the single-node Kafka is running (pid ${single}) on port ${PORTS.kafka}, which broker 1 needs: \`stint stack down\` first`,
    );
  }
  ensureKafkaJars(log);
  const p = clusterPaths();
  mkdirSync(p.dir, { recursive: true });
  writeLog4j(p.log4j);
  writeFileSync(p.state, `${JSON.stringify({ brokers, bootstrap: layout.bootstrap })}\n`);
  const controller = await nodeUp(layout, layout.controller, log, timeoutMs);
  // One at a time: on two cores, three JVMs starting together are slower than in a row.
  const states = [controller];
  for (const b of layout.brokers) states.push(await nodeUp(layout, b, log, timeoutMs));
  // A broker's port opens before the controller has unfenced it: wait until every broker is in the
  // cluster's metadata, so a topic created right after `stack up` gets all its replicas.
  await waitForBrokers(layout, timeoutMs);
  return states.every((s) => s === 'running') ? 'running' : 'started';
}

async function waitForBrokers(layout: ClusterLayout, timeoutMs: number): Promise<void> {
  const admin = createKafka({
    clientId: 'stint-stack',
    brokers: layout.bootstrap.split(','),
    retries: 1,
  }).admin();
  const deadline = Date.now() + timeoutMs;
  let seen = 0;
  try {
    await admin.connect();
    while (Date.now() < deadline) {
      seen = (await admin.describeCluster().catch(() => ({ brokers: [] }))).brokers.length;
      if (seen >= layout.brokers.length) return;
      await sleep(250);
    }
  } finally {
    await admin.disconnect().catch(() => {});
  }
  throw new Error(
    `the Kafka cluster shows ${seen} of ${layout.brokers.length} brokers after ${Math.round(timeoutMs / 1000)} s; see ${clusterLogs()['kafka controller 100']}`,
  );
}

/** Stops the brokers (each hands its leaderships over on the way), then the controller. */
export async function kafkaClusterDown(): Promise<boolean> {
  const brokers = recordedBrokerCount();
  if (brokers === null) return false;
  const layout = layoutFor(brokers);
  const stopped = await Promise.all(layout.brokers.map((b) => stopDaemon(nodePaths(b).pid, 30_000)));
  stopped.push(await stopDaemon(nodePaths(layout.controller).pid, 30_000));
  return stopped.some(Boolean);
}

export function clusterLogs(): Record<string, string> {
  const brokers = recordedBrokerCount();
  if (brokers === null) return {};
  const layout = layoutFor(brokers);
  return Object.fromEntries(
    [layout.controller, ...layout.brokers].map((n) => [`kafka ${n.role} ${n.nodeId}`, nodePaths(n).log]),
  );
}

/**
 * Local ZooKeeper for the ClickHouse cluster (`stint stack up --clickhouse-cluster`): ClickHouse 18.16
 * keeps the replication log of Replicated*MergeTree tables and the ON CLUSTER DDL queue in ZooKeeper.
 * One standalone server on loopback, jars resolved by Maven from infra/zookeeper/pom.xml, started with
 * `java` like Kafka. State under <STINT_HOME>/zookeeper/.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { ensureMavenJars, javaCommand } from './maven.ts';
import { INFRA_DIR, stintHome } from './paths.ts';
import { isAlive, portOpen, readPid, startDaemon, stopDaemon, waitUntil } from './process.ts';

const POM = `${INFRA_DIR}/zookeeper/pom.xml`;

export const ZOOKEEPER_PORT = Number(process.env.STINT_ZOOKEEPER_PORT || 12181);

export function zookeeperPaths(home = stintHome()) {
  const dir = `${home}/zookeeper`;
  return {
    dir,
    libs: `${dir}/libs`,
    data: `${dir}/data`,
    config: `${dir}/zoo.cfg`,
    logback: `${dir}/logback.xml`,
    pid: `${dir}/zookeeper.pid`,
    log: `${dir}/zookeeper.log`,
  };
}

export function zookeeperVersion(): string {
  return /<zookeeper\.version>([^<]+)</.exec(readFileSync(POM, 'utf8'))?.[1] ?? 'unknown';
}

/**
 * ZooKeeper serves clients: its `srvr` word (allowed by 4lw.commands.whitelist) names its `Mode:`.
 * Not `ruok`: that answers `imok` as soon as the process runs, also while it is still loading its
 * data and refusing sessions ("ZooKeeperServer not running"), and a ClickHouse server that starts
 * then cannot load its replicated tables and exits.
 */
export function zookeeperOk(port = ZOOKEEPER_PORT, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = createConnection({ port, host }, () => socket.write('srvr'));
    socket.setTimeout(2000, () => socket.destroy());
    socket.on('data', (d) => {
      answer += d.toString();
    });
    socket.on('close', () => resolve(/^Mode: /m.test(answer)));
    socket.on('error', () => resolve(false));
  });
}

function writeConfig(port: number): void {
  const p = zookeeperPaths();
  mkdirSync(p.data, { recursive: true });
  writeFileSync(
    p.config,
    [
      '# written by `stint stack up --clickhouse-cluster`; edit infra/src/stack/zookeeper.ts instead',
      'tickTime=2000',
      'initLimit=10',
      'syncLimit=5',
      `dataDir=${p.data}`,
      `clientPort=${port}`,
      'clientPortAddress=127.0.0.1',
      'maxClientCnxns=0',
      'admin.enableServer=false',
      '4lw.commands.whitelist=ruok,srvr,mntr',
      'autopurge.snapRetainCount=3',
      'autopurge.purgeInterval=1',
      '',
    ].join('\n'),
  );
  writeFileSync(
    p.logback,
    `<configuration>
  <appender name="out" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>[%d] %p %c{1}: %m%n</pattern></encoder>
  </appender>
  <logger name="org.apache.zookeeper.server.ZooKeeperServerMain" level="INFO"/>
  <root level="WARN"><appender-ref ref="out"/></root>
</configuration>
`,
  );
}

export async function zookeeperStatus(port = ZOOKEEPER_PORT) {
  const pid = readPid(zookeeperPaths().pid);
  return { running: pid !== null, pid, port, ready: pid !== null && (await zookeeperOk(port)) };
}

/** Idempotent: starts ZooKeeper when it is not running and waits until it serves (zookeeperOk). */
export async function zookeeperUp(
  log: (m: string) => void,
  port = ZOOKEEPER_PORT,
  timeoutMs = 60_000,
): Promise<'started' | 'running'> {
  const p = zookeeperPaths();
  if (readPid(p.pid) !== null) {
    await waitUntil('ZooKeeper', () => zookeeperOk(port), timeoutMs, p.log);
    return 'running';
  }
  if (await portOpen(port)) {
    throw new Error(
      `port ${port} (ZooKeeper) is taken by another process; stop it or set STINT_ZOOKEEPER_PORT`,
    );
  }
  ensureMavenJars({ pom: POM, libs: p.libs, what: `ZooKeeper ${zookeeperVersion()}`, log });
  writeConfig(port);
  const pid = startDaemon(
    javaCommand(),
    [
      '-Xms64m',
      '-Xmx256m',
      '-Djava.awt.headless=true',
      `-Dlogback.configurationFile=${p.logback}`,
      '-cp',
      `${p.libs}/*`,
      'org.apache.zookeeper.server.quorum.QuorumPeerMain',
      p.config,
    ],
    { pidFile: p.pid, logFile: p.log },
  );
  await waitUntil(
    'ZooKeeper',
    () => zookeeperOk(port),
    timeoutMs,
    p.log,
    () => isAlive(pid),
  );
  return 'started';
}

export function zookeeperDown(): Promise<boolean> {
  return stopDaemon(zookeeperPaths().pid, 20_000);
}

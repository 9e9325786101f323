/**
 * Local Kafka: Apache Kafka 4.x in KRaft mode (one node, broker + controller), jars resolved by Maven
 * from infra/kafka/pom.xml into .stint/kafka/libs (cached by the pom's hash), started with `java`.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { ensureMavenJars, javaCommand } from './maven.ts';
import { INFRA_DIR, PORTS, stintHome } from './paths.ts';
import { isAlive, portOpen, readPid, run, startDaemon, stopDaemon, waitUntil } from './process.ts';

export { javaCommand };

const POM = `${INFRA_DIR}/kafka/pom.xml`;

export function kafkaPaths(home = stintHome()) {
  const dir = `${home}/kafka`;
  return {
    dir,
    libs: `${dir}/libs`,
    stamp: `${dir}/libs/.pom-sha256`,
    data: `${dir}/data`,
    config: `${dir}/server.properties`,
    log4j: `${dir}/log4j2.properties`,
    pid: `${dir}/kafka.pid`,
    log: `${dir}/kafka.log`,
    clusterId: `${dir}/cluster-id`,
  };
}

export function kafkaVersion(): string {
  return /<kafka\.version>([^<]+)</.exec(readFileSync(POM, 'utf8'))?.[1] ?? 'unknown';
}

/** Resolves the broker's jars once; later runs reuse them while the pom is unchanged. */
export function ensureKafkaJars(log: (m: string) => void): string {
  return ensureMavenJars({ pom: POM, libs: kafkaPaths().libs, what: `Kafka ${kafkaVersion()}`, log });
}

function writeConfig(): void {
  const p = kafkaPaths();
  mkdirSync(p.data, { recursive: true });
  writeFileSync(
    p.config,
    [
      '# written by `stint stack up`; edit infra/src/stack/kafka.ts instead',
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${PORTS.kafkaController}`,
      `listeners=PLAINTEXT://127.0.0.1:${PORTS.kafka},CONTROLLER://127.0.0.1:${PORTS.kafkaController}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${PORTS.kafka}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      `log.dirs=${p.data}`,
      'num.partitions=4',
      'default.replication.factor=1',
      'min.insync.replicas=1',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=4',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'share.coordinator.state.topic.replication.factor=1',
      'share.coordinator.state.topic.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      'auto.create.topics.enable=false',
      'log.retention.hours=168',
      'log.segment.bytes=134217728',
      'num.io.threads=4',
      'num.network.threads=2',
      '',
    ].join('\n'),
  );
  writeLog4j(p.log4j);
}

/** Warnings and up, plus the line that says the server started. */
export function writeLog4j(file: string): void {
  writeFileSync(
    file,
    [
      'status = warn',
      'appender.out.type = Console',
      'appender.out.name = out',
      'appender.out.layout.type = PatternLayout',
      'appender.out.layout.pattern = [%d] %p %m (%c)%n',
      'rootLogger.level = info',
      'rootLogger.appenderRef.out.ref = out',
      'logger.kafka.name = kafka',
      'logger.kafka.level = warn',
      'logger.apache.name = org.apache.kafka',
      'logger.apache.level = warn',
      'logger.started.name = kafka.server.KafkaRaftServer',
      'logger.started.level = info',
      '',
    ].join('\n'),
  );
}

function javaArgs(mainClass: string, args: string[]): string[] {
  const p = kafkaPaths();
  return kafkaJavaArgs(mainClass, args, { log4j: p.log4j, heap: ['-Xms256m', '-Xmx768m'] });
}

export function kafkaJavaArgs(
  mainClass: string,
  args: string[],
  o: { log4j: string; heap: string[] },
): string[] {
  const p = kafkaPaths();
  return [
    ...o.heap,
    '-XX:+UseG1GC',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${o.log4j}`,
    '-cp',
    `${p.libs}/*`,
    mainClass,
    ...args,
  ];
}

function formatStorage(log: (m: string) => void): void {
  const p = kafkaPaths();
  const formatted =
    existsSync(`${p.data}/meta.properties`) ||
    (existsSync(p.data) && readdirSync(p.data).includes('meta.properties'));
  if (formatted) return;
  const clusterId = existsSync(p.clusterId)
    ? readFileSync(p.clusterId, 'utf8').trim()
    : Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
  writeFileSync(p.clusterId, clusterId);
  log('formatting Kafka storage (first run only)…');
  run(
    javaCommand(),
    javaArgs('kafka.tools.StorageTool', ['format', '-t', clusterId, '-c', p.config]),
    'Kafka storage format failed',
    {
      quiet: true,
    },
  );
}

export async function kafkaStatus(): Promise<{ running: boolean; pid: number | null; ready: boolean }> {
  const pid = readPid(kafkaPaths().pid);
  return { running: pid !== null, pid, ready: pid !== null && (await portOpen(PORTS.kafka)) };
}

export async function kafkaUp(log: (m: string) => void, timeoutMs = 90_000): Promise<'started' | 'running'> {
  const p = kafkaPaths();
  const status = await kafkaStatus();
  if (status.running) {
    await waitUntil('Kafka', () => portOpen(PORTS.kafka), timeoutMs, p.log);
    return 'running';
  }
  if (await portOpen(PORTS.kafka)) {
    throw new Error(`port ${PORTS.kafka} is taken by another process; stop it or set STINT_KAFKA_PORT`);
  }
  ensureKafkaJars(log);
  writeConfig();
  formatStorage(log);
  const pid = startDaemon(javaCommand(), javaArgs('kafka.Kafka', [p.config]), {
    pidFile: p.pid,
    logFile: p.log,
  });
  await waitUntil(
    'Kafka',
    () => portOpen(PORTS.kafka),
    timeoutMs,
    p.log,
    () => isAlive(pid),
  );
  return 'started';
}

export function kafkaDown(): Promise<boolean> {
  return stopDaemon(kafkaPaths().pid, 30_000);
}

/**
 * Integration tests need the real servers. `npm test` starts them first; when vitest is run directly
 * this check fails at once with the command to run instead of letting every test time out.
 */
import { clickhouseUrl } from '../clickhouse/client.ts';
import { kafkaBrokers } from '../kafka/index.ts';
import { portOpen } from '../stack/process.ts';

export default async function setup(): Promise<void> {
  const ch = clickhouseUrl();
  let chOk = false;
  try {
    const res = await fetch(`${ch.replace(/\/$/, '')}/ping`, { signal: AbortSignal.timeout(3000) });
    chOk = res.ok;
  } catch {
    chOk = false;
  }
  // A cluster (KAFKA_BROKERS=a:1,b:2,...) is reachable when any of its brokers is.
  const brokers = kafkaBrokers().map((b) => {
    const i = b.lastIndexOf(':');
    return { host: b.slice(0, i), port: Number(b.slice(i + 1)) };
  });
  const kafkaOk = (await Promise.all(brokers.map((b) => portOpen(b.port, b.host)))).some(Boolean);
  const { host, port } = brokers[0] ?? { host: '', port: 0 };
  const missing = [
    chOk ? '' : `ClickHouse at ${new URL(ch).host}`,
    kafkaOk ? '' : `Kafka at ${host}:${port}`,
  ].filter(Boolean);
  if (missing.length > 0) {
    throw new Error(
      `integration tests need ${missing.join(' and ')}: run \`npx stint stack up\` (or \`npm test\`, which does it)`,
    );
  }
}

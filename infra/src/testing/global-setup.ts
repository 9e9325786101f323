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
  const [host, port] = (kafkaBrokers()[0] ?? '').split(':');
  const kafkaOk = await portOpen(Number(port), host);
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

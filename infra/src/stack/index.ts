import {
  clickhouseDown,
  clickhousePaths,
  clickhouseStatus,
  clickhouseUp,
  clickhouseVersion,
} from './clickhouse.ts';
import { kafkaDown, kafkaPaths, kafkaStatus, kafkaUp, kafkaVersion } from './kafka.ts';

export { serviceNodeFlags } from './node-flags.ts';
export { PORTS, REPO_ROOT, stintHome } from './paths.ts';
export {
  clickhouseDown,
  clickhousePaths,
  clickhouseUp,
  clickhouseVersion,
  kafkaDown,
  kafkaPaths,
  kafkaUp,
  kafkaVersion,
};

type Log = (message: string) => void;

/** External servers given by the environment replace the local ones. */
export function externalServers(env: NodeJS.ProcessEnv = process.env) {
  return { kafka: Boolean(env.KAFKA_BROKERS), clickhouse: Boolean(env.CLICKHOUSE_URL) };
}

export interface UpResult {
  kafka: 'started' | 'running' | 'external';
  clickhouse: 'started' | 'running' | 'external';
  ms: number;
}

/** Idempotent: starts what is not running, waits for both to be ready. */
export async function stackUp(log: Log): Promise<UpResult> {
  const started = Date.now();
  const ext = externalServers();
  const [clickhouse, kafka] = await Promise.all([
    ext.clickhouse ? ('external' as const) : clickhouseUp(log),
    ext.kafka ? ('external' as const) : kafkaUp(log),
  ]);
  return { kafka, clickhouse, ms: Date.now() - started };
}

export async function stackDown(): Promise<{ kafka: boolean; clickhouse: boolean }> {
  const [kafka, clickhouse] = await Promise.all([kafkaDown(), clickhouseDown()]);
  return { kafka, clickhouse };
}

export async function stackStatus() {
  const ext = externalServers();
  return {
    kafka: ext.kafka ? { external: process.env.KAFKA_BROKERS } : await kafkaStatus(),
    clickhouse: ext.clickhouse ? { external: true } : await clickhouseStatus(),
  };
}

export function stackLogs(): Record<string, string> {
  return {
    kafka: kafkaPaths().log,
    clickhouse: clickhousePaths().log,
    'clickhouse errors': clickhousePaths().errLog,
  };
}

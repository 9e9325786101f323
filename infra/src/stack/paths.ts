import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');
export const INFRA_DIR = `${REPO_ROOT}/infra`;

/** All local state (jars, data, logs, pids) lives under one ignored folder. */
export function stintHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.STINT_HOME || `${REPO_ROOT}/.stint`;
}

export const PORTS = {
  kafka: Number(process.env.STINT_KAFKA_PORT || 19092),
  kafkaController: Number(process.env.STINT_KAFKA_CONTROLLER_PORT || 19093),
  clickhouseHttp: Number(process.env.STINT_CLICKHOUSE_HTTP_PORT || 18123),
  clickhouseTcp: Number(process.env.STINT_CLICKHOUSE_TCP_PORT || 19000),
};

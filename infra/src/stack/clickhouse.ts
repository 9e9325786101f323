/**
 * Local ClickHouse: `clickhouse-server` from the system's packages (Debian 12 ships 18.16), or a modern
 * single `clickhouse` binary found on PATH, started with our own config, ports and data folder.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { PORTS, stintHome } from './paths.ts';
import {
  isAlive,
  isRoot,
  portOpen,
  readPid,
  run,
  startDaemon,
  stopDaemon,
  waitUntil,
  which,
} from './process.ts';

export function clickhousePaths(home = stintHome(), dir = `${home}/clickhouse`) {
  return {
    dir,
    data: `${dir}/data/`,
    tmp: `${dir}/tmp/`,
    userFiles: `${dir}/user_files/`,
    formatSchemas: `${dir}/format_schemas/`,
    config: `${dir}/config.xml`,
    users: `${dir}/users.xml`,
    pid: `${dir}/clickhouse.pid`,
    log: `${dir}/log/clickhouse-server.log`,
    errLog: `${dir}/log/clickhouse-server.err.log`,
    stdout: `${dir}/log/stdout.log`,
  };
}

interface ServerBinary {
  cmd: string;
  args: string[];
  kind: 'modern' | 'debian';
}

function findServer(): ServerBinary | null {
  const modern = which('clickhouse');
  if (modern) return { cmd: modern, args: ['server'], kind: 'modern' };
  const legacy =
    which('clickhouse-server') ??
    (existsSync('/usr/bin/clickhouse-server') ? '/usr/bin/clickhouse-server' : null);
  if (legacy) return { cmd: legacy, args: [], kind: 'debian' };
  return null;
}

/** Installs Debian's clickhouse-server when missing and we are root; otherwise says what to install. */
export function ensureClickHouseBinary(log: (m: string) => void): ServerBinary {
  const found = findServer();
  if (found) return found;
  if (!isRoot() || !which('apt-get')) {
    throw new Error(
      'ClickHouse is not installed. Install it (Debian/Ubuntu: sudo apt-get install clickhouse-server), put a `clickhouse` binary on PATH, or set CLICKHOUSE_URL to an existing server.',
    );
  }
  log('installing clickhouse-server with apt-get (first run only)…');
  run('apt-get', ['update', '-qq'], 'apt-get update failed', { quiet: true });
  run('apt-get', ['install', '-y', '-qq', 'clickhouse-server'], 'apt-get install clickhouse-server failed', {
    quiet: true,
  });
  const installed = findServer();
  if (!installed) throw new Error('clickhouse-server was installed but is not on PATH');
  return installed;
}

export type ClickHousePaths = ReturnType<typeof clickhousePaths>;

export interface ServerSpec {
  paths: ClickHousePaths;
  http: number;
  tcp: number;
  /** Extra top-level config (cluster mode: interserver port, remote_servers, macros, zookeeper). */
  extra?: string;
}

const singleNode = (): ServerSpec => ({
  paths: clickhousePaths(),
  http: PORTS.clickhouseHttp,
  tcp: PORTS.clickhouseTcp,
});

export function writeServerConfig(spec: ServerSpec): void {
  const p = spec.paths;
  for (const d of [p.data, p.tmp, p.userFiles, p.formatSchemas, `${p.dir}/log`])
    mkdirSync(d, { recursive: true });
  // <yandex> is the root element 18.16 requires; current servers still accept it.
  writeFileSync(
    p.config,
    `<?xml version="1.0"?>
<!-- written by \`stint stack up\`; edit infra/src/stack/clickhouse.ts instead -->
<yandex>
  <logger>
    <level>warning</level>
    <log>${p.log}</log>
    <errorlog>${p.errLog}</errorlog>
    <size>50M</size>
    <count>3</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${spec.http}</http_port>
  <tcp_port>${spec.tcp}</tcp_port>
  <path>${p.data}</path>
  <tmp_path>${p.tmp}</tmp_path>
  <user_files_path>${p.userFiles}</user_files_path>
  <format_schema_path>${p.formatSchemas}</format_schema_path>
  <users_config>${p.users}</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
  <max_concurrent_queries>64</max_concurrent_queries>
  <max_connections>512</max_connections>
  <keep_alive_timeout>10</keep_alive_timeout>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
  <max_table_size_to_drop>0</max_table_size_to_drop>
  <max_partition_size_to_drop>0</max_partition_size_to_drop>
${spec.extra ?? ''}</yandex>
`,
  );
  writeFileSync(
    p.users,
    `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>4000000000</max_memory_usage>
      <max_threads>2</max_threads>
      <use_uncompressed_cache>0</use_uncompressed_cache>
      <load_balancing>random</load_balancing>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>::1</ip><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval>
    </default>
  </quotas>
</yandex>
`,
  );
}

export async function httpOk(port = PORTS.clickhouseHttp): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/?query=SELECT%201`, {
      signal: AbortSignal.timeout(2000),
    });
    return res.ok && (await res.text()).trim() === '1';
  } catch {
    return false;
  }
}

export async function clickhouseVersion(): Promise<string> {
  try {
    const res = await fetch(`http://127.0.0.1:${PORTS.clickhouseHttp}/?query=SELECT%20version()`, {
      signal: AbortSignal.timeout(2000),
    });
    return (await res.text()).trim();
  } catch {
    return 'unknown';
  }
}

export async function clickhouseStatus(): Promise<{ running: boolean; pid: number | null; ready: boolean }> {
  const pid = readPid(clickhousePaths().pid);
  return { running: pid !== null, pid, ready: pid !== null && (await httpOk()) };
}

export function clickhouseUp(log: (m: string) => void, timeoutMs = 60_000): Promise<'started' | 'running'> {
  return serverUp('ClickHouse', singleNode(), log, timeoutMs);
}

/** Starts one server with its own config unless it runs already; waits until it answers queries. */
export async function serverUp(
  name: string,
  spec: ServerSpec,
  log: (m: string) => void,
  timeoutMs = 60_000,
): Promise<'started' | 'running'> {
  const p = spec.paths;
  const ready = () => httpOk(spec.http);
  if (readPid(p.pid) !== null) {
    await waitUntil(name, ready, timeoutMs, p.errLog);
    return 'running';
  }
  if (await portOpen(spec.http)) {
    throw new Error(
      `port ${spec.http} (${name}) is taken by another process; stop it or set STINT_CLICKHOUSE_HTTP_PORT`,
    );
  }
  const server = ensureClickHouseBinary(log);
  writeServerConfig(spec);
  const pid = startDaemon(server.cmd, [...server.args, `--config-file=${p.config}`], {
    pidFile: p.pid,
    logFile: p.stdout,
    cwd: p.dir,
  });
  await waitUntil(name, ready, timeoutMs, p.errLog, () => isAlive(pid));
  return 'started';
}

export function clickhouseDown(): Promise<boolean> {
  return stopDaemon(clickhousePaths().pid, 30_000);
}

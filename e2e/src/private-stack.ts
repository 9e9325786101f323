/**
 * A second, private Kafka + ClickHouse for the fault tests that stop a server: stopping the shared
 * stack would break every other test running at the same time. Same code as `stint stack`, with its
 * own STINT_HOME (a temp folder) and ports; the Kafka jars are borrowed from the shared stack's cache.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, REPO_ROOT } from './pipeline.ts';

export interface PrivateStack {
  kafkaBrokers: string;
  clickhouseUrl: string;
  home: string;
  kafkaDown(): Promise<void>;
  kafkaUp(): Promise<void>;
  clickhouseDown(): Promise<void>;
  clickhouseUp(): Promise<void>;
  /** Stops both servers and removes the private data. */
  destroy(): Promise<void>;
}

function run(env: NodeJS.ProcessEnv, command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'e2e/src/stack-control.ts'), command],
      {
        cwd: REPO_ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    child.once('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`stack ${command} failed (${code}):\n${output.slice(-3000)}`)),
    );
  });
}

export async function startPrivateStack(): Promise<PrivateStack> {
  const sharedLibs = join(process.env.STINT_HOME || join(REPO_ROOT, '.stint'), 'kafka', 'libs');
  if (!existsSync(sharedLibs))
    throw new Error(`no Kafka jars at ${sharedLibs}: run \`npx stint stack up\` once`);
  const home = mkdtempSync(join(tmpdir(), 'stint-private-stack-'));
  mkdirSync(join(home, 'kafka'), { recursive: true });
  symlinkSync(sharedLibs, join(home, 'kafka', 'libs'));
  const ports = {
    STINT_KAFKA_PORT: String(await freePort()),
    STINT_KAFKA_CONTROLLER_PORT: String(await freePort()),
    STINT_CLICKHOUSE_HTTP_PORT: String(await freePort()),
    STINT_CLICKHOUSE_TCP_PORT: String(await freePort()),
  };
  const env: NodeJS.ProcessEnv = { ...process.env, ...ports, STINT_HOME: home };
  // The stack treats these as "use an external server"; the private stack is local.
  delete env.KAFKA_BROKERS;
  delete env.CLICKHOUSE_URL;
  const stack: PrivateStack = {
    home,
    kafkaBrokers: `127.0.0.1:${ports.STINT_KAFKA_PORT}`,
    clickhouseUrl: `http://127.0.0.1:${ports.STINT_CLICKHOUSE_HTTP_PORT}`,
    kafkaDown: () => run(env, 'kafka-down'),
    kafkaUp: () => run(env, 'kafka-up'),
    clickhouseDown: () => run(env, 'clickhouse-down'),
    clickhouseUp: () => run(env, 'clickhouse-up'),
    async destroy() {
      try {
        await run(env, 'down');
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    },
  };
  try {
    await run(env, 'up');
  } catch (err) {
    await stack.destroy().catch(() => {});
    throw err;
  }
  return stack;
}

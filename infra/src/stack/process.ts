import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function readPid(file: string): number | null {
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : null;
}

/** Starts a detached daemon whose output goes to `logFile`; records its pid. */
export function startDaemon(
  cmd: string,
  args: string[],
  opts: { pidFile: string; logFile: string; cwd?: string; env?: NodeJS.ProcessEnv },
): number {
  mkdirSync(dirname(opts.logFile), { recursive: true });
  const out = openSync(opts.logFile, 'a');
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ['ignore', out, out],
  });
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  child.unref();
  writeFileSync(opts.pidFile, String(child.pid));
  return child.pid;
}

/** SIGTERM, wait up to `timeoutMs`, then SIGKILL. Returns whether it was running. */
export async function stopDaemon(pidFile: string, timeoutMs = 20_000): Promise<boolean> {
  const pid = readPid(pidFile);
  if (pid === null) {
    rmSync(pidFile, { force: true });
    return false;
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(200);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  while (isAlive(pid)) await sleep(100);
  rmSync(pidFile, { force: true });
  return true;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() || null : null;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Runs a command, streaming its output; throws with `hint` when it fails. */
export function run(
  cmd: string,
  args: string[],
  hint: string,
  opts: { cwd?: string; quiet?: boolean } = {},
): void {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, stdio: opts.quiet ? 'pipe' : 'inherit', encoding: 'utf8' });
  if (r.status !== 0) {
    const output = opts.quiet ? `\n${r.stdout ?? ''}${r.stderr ?? ''}`.slice(-4000) : '';
    throw new Error(`${hint} (${cmd} ${args.join(' ')} exited ${r.status ?? r.signal})${output}`);
  }
}

/** Polls `check` until it passes or `timeoutMs` runs out; the error names the log file to read. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  logFile: string,
  stillRunning?: () => boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    if (stillRunning && !stillRunning()) {
      throw new Error(`${what} exited during start-up; see ${logFile}\n${tail(logFile)}`);
    }
    await sleep(250);
  }
  throw new Error(
    `${what} did not become ready within ${Math.round(timeoutMs / 1000)} s; see ${logFile}\n${tail(logFile)}`,
  );
}

export function tail(file: string, lines = 20): string {
  if (!existsSync(file)) return '(no log yet)';
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

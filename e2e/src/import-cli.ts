/** Runs `stint import-logs` as a user does (a child process), for the import test and benchmark. */
import { spawn } from 'node:child_process';
import { REPO_ROOT } from './pipeline.ts';

export interface ImportRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall time of the whole run, start-up included. */
  seconds: number;
}

export function runImportLogs(args: string[], env: Record<string, string> = {}): Promise<ImportRun> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${REPO_ROOT}/infra/bin/stint.js`, 'import-logs', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, seconds: (performance.now() - t0) / 1000 }));
  });
}

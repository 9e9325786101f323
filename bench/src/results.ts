/** Every benchmark prints its figures and writes them as JSON under bench/results/. */
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** What the issue asks for, e.g. '≥ 15000' or '< 200', for the table. */
  target?: string;
}

export function machine(): Record<string, string | number> {
  const cpu = cpus()[0]?.model ?? 'unknown';
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  return {
    cpu,
    cores: cpus().length,
    memory_gib: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    date: new Date().toISOString(),
    commit,
  };
}

export function writeResult(bench: string, figures: Figure[], extra: Record<string, unknown> = {}): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = `${RESULTS_DIR}${bench}.json`;
  writeFileSync(file, `${JSON.stringify({ bench, machine: machine(), figures, ...extra }, null, 2)}\n`);
  process.stdout.write(`\n${bench}:\n`);
  for (const f of figures) {
    process.stdout.write(
      `  ${f.name.padEnd(48)} ${String(f.value).padStart(12)} ${f.unit}${f.target ? `   (target ${f.target})` : ''}\n`,
    );
  }
  process.stdout.write(`  → ${file}\n`);
  return file;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? 0;
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/**
 * Node/V8 flags a service runs with, declared by the service itself in its package.json
 * (`"stint": { "nodeFlags": [...] }`), so that `stint start` and the benchmarks launch it the same way.
 */
import { readFileSync } from 'node:fs';
import { REPO_ROOT } from './paths.ts';

export function serviceNodeFlags(service: string, root = REPO_ROOT): string[] {
  let pkg: { stint?: { nodeFlags?: unknown } };
  try {
    pkg = JSON.parse(readFileSync(`${root}/${service}/package.json`, 'utf8'));
  } catch {
    return [];
  }
  const flags = pkg.stint?.nodeFlags;
  if (flags === undefined) return [];
  if (!Array.isArray(flags) || !flags.every((f) => typeof f === 'string' && f.startsWith('--'))) {
    throw new Error(`${service}/package.json: stint.nodeFlags must be a list of --flags`);
  }
  return flags;
}

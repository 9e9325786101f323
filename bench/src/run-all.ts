/**
 * `npm run bench`: runs every benchmark in turn (each prints its figures and writes its JSON), then
 * merges them into bench/results/latest.json and a Markdown table bench/results/latest.md, which the
 * README copies. `--only api,collector` runs a subset; `--quick` uses smaller sizes for a smoke run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '@stint/infra/stack';
import { type Figure, machine, RESULTS_DIR } from './results.ts';

const { values } = parseArgs({
  options: { only: { type: 'string' }, quick: { type: 'boolean', default: false } },
});
const quick = values.quick;
const BENCHES: Record<string, string[]> = {
  collector: ['bench/src/collector-bench.ts', '--seconds', quick ? '3' : '10'],
  sessionizer: ['bench/src/sessionizer-bench.ts', ...(quick ? ['--events', '50000'] : [])],
  import: ['bench/src/import-bench.ts', ...(quick ? ['--lines', '50000'] : [])],
  api: ['bench/src/api-bench.ts', ...(quick ? ['--events', '1000000', '--runs', '5'] : ['--reuse'])],
};
const only = values.only?.split(',') ?? Object.keys(BENCHES);
for (const name of only) {
  const args = BENCHES[name];
  if (!args || !existsSync(`${REPO_ROOT}/${args[0]}`)) {
    process.stderr.write(`bench: skipping ${name} (not found)\n`);
    continue;
  }
  const r = spawnSync(`${REPO_ROOT}/node_modules/.bin/tsx`, args, { cwd: REPO_ROOT, stdio: 'inherit' });
  if (r.status !== 0) process.stderr.write(`bench: ${name} failed (exit ${r.status})\n`);
}

const results: Record<string, { machine: Record<string, unknown>; figures: Figure[] }> = {};
for (const name of Object.keys(BENCHES)) {
  const file = `${RESULTS_DIR}${name}.json`;
  if (existsSync(file)) results[name] = JSON.parse(readFileSync(file, 'utf8'));
}
const m = machine();
const lines = [
  `Machine: ${m.cpu}, ${m.cores} cores, ${m.memory_gib} GiB; Node ${m.node}; commit ${m.commit}; ${String(m.date).slice(0, 10)}.`,
  '',
  '| benchmark | figure | value | target | measured |',
  '|---|---|---:|---|---|',
];
for (const [name, r] of Object.entries(results)) {
  for (const f of r.figures) {
    lines.push(
      `| ${name} | ${f.name} | ${f.value.toLocaleString('en-US')} ${f.unit} | ${f.target ?? ''} | ${String(r.machine.date).slice(0, 16).replace('T', ' ')} |`,
    );
  }
}
writeFileSync(`${RESULTS_DIR}latest.json`, `${JSON.stringify({ machine: m, results }, null, 2)}\n`);
writeFileSync(`${RESULTS_DIR}latest.md`, `${lines.join('\n')}\n`);
process.stdout.write(`\n${lines.join('\n')}\n\n→ ${RESULTS_DIR}latest.md\n`);

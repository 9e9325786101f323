#!/usr/bin/env node
// `npm start` and `npm test` on a fresh machine: install what is missing (npm packages; Chromium for
// the browser tests), bring the local stack up (Kafka via Maven + java, ClickHouse via apt), migrate,
// then start the services or run the whole suite. Plain JavaScript: it runs before node_modules exists.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [mode, ...rest] = process.argv.slice(2);
const started = Date.now();

function say(message) {
  process.stderr.write(`[stint ${mode} +${((Date.now() - started) / 1000).toFixed(0)}s] ${message}\n`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    say(`failed: ${cmd} ${args.join(' ')} (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function ensureNodeModules() {
  const stamp = join(root, 'node_modules', '.package-lock.json');
  if (existsSync(stamp) && existsSync(join(root, 'node_modules', '.bin', 'tsx'))) return;
  say('installing npm packages (npm ci)…');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

function ensureChromium() {
  if (has('chromium') || process.env.CHROMIUM_PATH) return;
  if (!isRoot || !has('apt-get')) {
    say('Chromium is missing: install it (Debian: sudo apt-get install chromium) or set CHROMIUM_PATH');
    process.exit(1);
  }
  say('installing Chromium with apt-get (browser tests)…');
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', 'chromium'], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

const stint = (...args) => run(process.execPath, [join(root, 'infra/bin/stint.js'), ...args]);

ensureNodeModules();
if (mode === 'test') {
  ensureChromium();
  stint('stack', 'up');
  say('lint, typecheck, dependency check…');
  run('npm', ['run', 'check']);
  say('running the test suite against the real servers…');
  // Everything but the cluster suite (`npm run test:cluster`), which needs the clusters running.
  const projects = ['unit', 'integration', 'faults'].flatMap((p) => ['--project', p]);
  run(join(root, 'node_modules/.bin/vitest'), ['run', ...projects, ...rest]);
  say('all tests passed');
} else if (mode === 'test:cluster') {
  // The cluster suite: the single nodes stop (the clusters take their ports), the local clusters
  // start (three Kafka brokers; ZooKeeper and 2 x 2 ClickHouse servers, migrated in cluster mode).
  stint('stack', 'down');
  stint('stack', 'up', '--kafka-brokers', '3', '--clickhouse-cluster', '2x2');
  say('running the cluster tests against the local clusters…');
  run(join(root, 'node_modules/.bin/vitest'), ['run', '--project', 'cluster', ...rest]);
  say('cluster tests passed');
} else if (mode === 'start') {
  stint('start', ...rest);
} else {
  say(`unknown mode ${mode}`);
  process.exit(2);
}

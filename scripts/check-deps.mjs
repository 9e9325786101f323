#!/usr/bin/env node
// npm workspaces hoist dependencies, so a workspace could import a package it never declared and
// break when installed alone. This fails when a workspace's source imports an undeclared package.
// Test files may also use the root's devDependencies (vitest, fast-check).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const rootDev = new Set(Object.keys(rootPkg.devDependencies ?? {}));
const builtins = new Set(builtinModules);
const IMPORT =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm;

function files(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (/\.(ts|tsx|mts|js|mjs)$/.test(name) && !name.endsWith('.min.js')) out.push(p);
  }
  return out;
}

function packageName(spec) {
  if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:')) return null;
  const parts = spec.split('/');
  const name = spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  return builtins.has(name) ? null : name;
}

const problems = [];
for (const ws of rootPkg.workspaces) {
  const pkgFile = join(root, ws, 'package.json');
  let pkg;
  try {
    pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
  } catch {
    continue;
  }
  const declared = new Set([
    pkg.name,
    ...Object.keys({ ...pkg.dependencies, ...pkg.devDependencies, ...pkg.peerDependencies }),
  ]);
  for (const file of files(join(root, ws))) {
    const isTest = /\/test\/|\.test\.ts$|\/bench\//.test(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const name = packageName(m[1] ?? m[2] ?? m[3] ?? '');
      if (!name || declared.has(name) || (isTest && rootDev.has(name))) continue;
      problems.push(`${file.slice(root.length)} imports ${name}, which ${ws}/package.json does not declare`);
    }
  }
}
if (problems.length) {
  process.stderr.write(`undeclared dependencies:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(
  `dependency check: every import of ${rootPkg.workspaces.length} workspaces is declared\n`,
);

/**
 * `stint` — one CLI for every part. infra contributes stack, migrate, sites and tokens; each other
 * part may contribute commands from its own `src/cli.ts` (exporting `register(program)`), loaded by
 * path so that infra never depends on the parts built on it.
 */
import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { REPO_ROOT } from '../stack/paths.ts';
import { registerAdminCommands } from './admin.ts';
import { registerStackCommands } from './stack.ts';
import { registerStartCommand } from './start.ts';

const PARTS = ['collector', 'sessionizer', 'api', 'dashboards', 'e2e', 'bench'];

const program = new Command('stint')
  .description(
    'Stint: self-hosted web-analytics sessions (snippet → collector → Kafka → sessionizer → ClickHouse)',
  )
  .showHelpAfterError();

registerStackCommands(program);
registerAdminCommands(program);
registerStartCommand(program);

for (const part of PARTS) {
  const file = `${REPO_ROOT}/${part}/src/cli.ts`;
  if (!existsSync(file)) continue;
  const mod = (await import(file)) as { register?: (p: Command) => void };
  mod.register?.(program);
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`stint: ${(err as Error).message}\n`);
  process.exit(1);
}

/**
 * Run as a child process: `node --import tsx e2e/src/stack-control.ts <up|down|kafka-down|kafka-up|
 * clickhouse-down|clickhouse-up>`, with STINT_HOME and the STINT_*_PORT variables of a private stack.
 * A child process because the stack module reads its ports from the environment when it loads.
 */
import { clickhouseDown, clickhouseUp, kafkaDown, kafkaUp } from '@stint/infra/stack';

const log = (m: string) => process.stderr.write(`${m}\n`);
const command = process.argv[2];
const actions: Record<string, () => Promise<unknown>> = {
  up: () => Promise.all([clickhouseUp(log), kafkaUp(log)]),
  down: () => Promise.all([kafkaDown(), clickhouseDown()]),
  'kafka-down': () => kafkaDown(),
  'kafka-up': () => kafkaUp(log),
  'clickhouse-down': () => clickhouseDown(),
  'clickhouse-up': () => clickhouseUp(log),
};
const action = command === undefined ? undefined : actions[command];
if (!action) {
  log(`usage: stack-control.ts ${Object.keys(actions).join('|')}`);
  process.exit(2);
}
await action();

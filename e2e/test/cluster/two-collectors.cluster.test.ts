import { recordedClickHouseCluster } from '@stint/infra/stack';
import { afterAll, beforeAll, onTestFailed, test } from 'vitest';
import type { Pipeline, Service } from '../../src/pipeline.ts';
import { expectOneCookielessVisitor, startTwoCollectors } from '../two-collectors-check.ts';

let pipeline: Pipeline;
let second: Service;
let secondHome: string;

beforeAll(async () => {
  const other = recordedClickHouseCluster()?.nodes.find((n) => n.shard === 2);
  if (!other) throw new Error('no second shard: `npm run test:cluster` starts the local cluster');
  ({ pipeline, second, secondHome } = await startTwoCollectors('cluster_collectors', {
    CLICKHOUSE_URL: `http://127.0.0.1:${other.http}`,
  }));
});

afterAll(async () => {
  await pipeline?.close();
});

test('two collectors on two ClickHouse servers: a cookieless visitor alternating between them is one visitor, one session', async () => {
  onTestFailed(() => {
    process.stderr.write(pipeline.logs(40));
  });
  await expectOneCookielessVisitor(pipeline, second, secondHome);
});

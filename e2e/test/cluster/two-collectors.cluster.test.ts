/**
 * Two collectors on two servers of the ClickHouse cluster (one on shard 1's first server, one on shard
 * 2's), separate processes and data directories, started at the same moment in front of one
 * cookieless site: each proposes the day's salt to its own replica of the salt tables, and both end
 * with the same salt (SYSTEM SYNC REPLICA before every read-back), so a visitor alternating between
 * them is one visitor and one session.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordedClickHouseCluster } from '@stint/infra/stack';
import { afterAll, beforeAll, onTestFailed, test } from 'vitest';
import { type Pipeline, type Service, startPipeline } from '../../src/pipeline.ts';
import { COOKIELESS_SITE, expectOneCookielessVisitor } from '../../src/two-collectors.ts';

let pipeline: Pipeline;
let second: Service;
let secondHome: string;

beforeAll(async () => {
  const other = recordedClickHouseCluster()?.nodes.find((n) => n.shard === 2);
  if (!other) throw new Error('no second shard: `npm run test:cluster` starts the local cluster');
  pipeline = await startPipeline({
    label: 'cluster_collectors',
    sites: [{ site_id: COOKIELESS_SITE, gap_s: 1800 }],
    partitions: 3,
    api: false,
    collector: false,
  });
  secondHome = mkdtempSync(join(tmpdir(), 'stint-collector-2-'));
  [, second] = await Promise.all([
    pipeline.collector.start(),
    pipeline.addCollector({
      STINT_HOME: secondHome,
      COLLECTOR_SALT_FILE: join(secondHome, 'salts.json'),
      CLICKHOUSE_URL: `http://127.0.0.1:${other.http}`,
    }),
  ]);
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

/**
 * A later migration that alters a data table of an existing cluster database: the ALTER runs on the
 * local table on one server of each shard (ZooKeeper carries it to the other replicas), the
 * Distributed table is created again from the new columns, and the rows written before are
 * still there with the new column's default. Given servers that do not cover every shard, nothing
 * is altered and the error says what to set.
 */
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createClickHouse,
  createMigrationClient,
  dropDatabase,
  exec,
  insertRows,
  MIGRATIONS_DIR,
  migrate,
  queryRows,
} from '../src/clickhouse/index.ts';
import { recordedClickHouseCluster, shardUrls } from '../src/stack/index.ts';
import { waitFor } from '../src/testing/index.ts';

const recordedLayout = recordedClickHouseCluster();
if (!recordedLayout) throw new Error('no local ClickHouse cluster: `npm run test:cluster` starts it');
const layout = recordedLayout;
const cluster = layout.name;
const database = `stint_test_cluster_alter_${Date.now().toString(36)}`;
const dir = mkdtempSync(join(tmpdir(), 'stint-migrations-'));
for (const f of readdirSync(MIGRATIONS_DIR)) copyFileSync(join(MIGRATIONS_DIR, f), join(dir, f));
const client = createMigrationClient();
const servers = layout.nodes.map((n) => ({
  name: n.name,
  client: createClickHouse({ url: `http://127.0.0.1:${n.http}`, database }),
}));

afterAll(async () => {
  await dropDatabase(client, database, cluster);
  await Promise.all([client.close(), ...servers.map((s) => s.client.close())]);
  rmSync(dir, { recursive: true, force: true });
});

const columnsOf = async (c: (typeof servers)[number]['client'], table: string) =>
  (
    await queryRows<{ name: string; default_kind: string }>(
      c,
      `SELECT name, default_kind FROM system.columns WHERE database = '${database}' AND table = '${table}' ORDER BY name`,
    )
  ).map((r) => `${r.name}${r.default_kind ? ` ${r.default_kind}` : ''}`);

describe('a migration that alters a sharded table of an existing cluster database', () => {
  it('alters every replica of every shard and recreates the Distributed table, keeping the rows', async () => {
    await migrate({ client, database, cluster, dir, shardUrls: shardUrls(layout) });
    const visitors = Array.from({ length: 40 }, (_, i) => ({ site_id: 'a.example', visitor_id: `v${i}` }));
    await insertRows(servers[0]?.client ?? client, 'visitor_tombstones', visitors);

    writeFileSync(
      join(dir, '011_test_tombstone_note.sql'),
      "ALTER TABLE {db}.visitor_tombstones\n    ADD COLUMN note String DEFAULT 'none',\n    ADD COLUMN note_length UInt64 MATERIALIZED length(note);\n",
    );
    const { said, res } = await migrateLogged();
    expect(res.applied).toEqual(['011_test_tombstone_note.sql']);
    expect(said.filter((m) => m.startsWith('altering'))).toHaveLength(layout.shards);

    for (const s of servers) {
      await waitFor(
        async () =>
          (await columnsOf(s.client, 'visitor_tombstones_local')).join() ===
          'note DEFAULT,note_length MATERIALIZED,site_id,visitor_id',
        { timeoutMs: 30_000, message: `${s.name}: the local table altered` },
      );
      // The Distributed table computes the materialized column itself (ALIAS): inserts stay valid.
      expect(await columnsOf(s.client, 'visitor_tombstones')).toEqual([
        'note DEFAULT',
        'note_length ALIAS',
        'site_id',
        'visitor_id',
      ]);
    }

    // Written on the last server, read on another: replicas catch up within moments (not at once).
    const last = servers[servers.length - 1]?.client ?? client;
    await insertRows(last, 'visitor_tombstones', [
      { site_id: 'a.example', visitor_id: 'new', note: 'hello' },
    ]);
    const expected = JSON.stringify([
      { note: 'hello', n: '1', len: '5' },
      { note: 'none', n: '40', len: '4' },
    ]);
    let seen = '';
    await waitFor(
      async () => {
        seen = JSON.stringify(
          await queryRows(
            servers[1]?.client ?? client,
            `SELECT note, count() AS n, max(note_length) AS len FROM visitor_tombstones GROUP BY note ORDER BY note`,
          ),
        );
        return seen === expected;
      },
      { timeoutMs: 30_000, message: 'old rows with the default, the new row with its note' },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last read ${seen}`);
    });
    // Both shards hold some of the visitors (the rows were spread by visitor before the ALTER).
    const perShard = await Promise.all(
      layout.nodes
        .filter((n) => n.replica === 1)
        .map(async (n) => {
          const s = servers.find((x) => x.name === n.name);
          const r = await queryRows<{ n: string }>(
            s?.client ?? client,
            `SELECT count() AS n FROM visitor_tombstones_local WHERE note = 'none'`,
          );
          return Number(r[0]?.n);
        }),
    );
    expect(perShard.every((n) => n > 0)).toBe(true);
    expect(perShard.reduce((a, b) => a + b, 0)).toBe(40);
  });

  it('servers that do not cover every shard: nothing is altered, and the error says what to set', async () => {
    writeFileSync(
      join(dir, '012_test_tombstone_flag.sql'),
      'ALTER TABLE {db}.visitor_tombstones ADD COLUMN flag UInt8 DEFAULT 0;\n',
    );
    const shard1 = layout.nodes.filter((n) => n.shard === 1).map((n) => `http://127.0.0.1:${n.http}`);
    await expect(migrate({ client, database, cluster, dir, shardUrls: shard1 })).rejects.toThrow(
      new RegExp(
        `one server of each of its ${layout.shards} shards .*set STINT_CLICKHOUSE_SHARD_URLS .*nothing was altered`,
      ),
    );
    for (const s of servers) {
      expect(await columnsOf(s.client, 'visitor_tombstones_local')).not.toContain('flag DEFAULT');
    }
    expect(await recorded('012%')).toEqual([]);
  });

  it('a run that stopped half-way goes on: a shard that has the added column is skipped', async () => {
    // As if an earlier run had altered shard 1 and then stopped.
    const first = servers[0]?.client ?? client;
    await exec(first, 'ALTER TABLE visitor_tombstones_local ADD COLUMN flag UInt8 DEFAULT 0');
    const { said, res } = await migrateLogged();
    expect(res.applied).toEqual(['012_test_tombstone_flag.sql']);
    expect(said.filter((m) => / has flag already$/.test(m))).toHaveLength(1);
    expect(said.filter((m) => m.startsWith('altering'))).toHaveLength(layout.shards - 1);
    for (const s of servers) {
      await waitFor(
        async () => (await columnsOf(s.client, 'visitor_tombstones_local')).includes('flag DEFAULT'),
        { timeoutMs: 30_000, message: `${s.name}: flag on the local table` },
      );
      expect(await columnsOf(s.client, 'visitor_tombstones')).toContain('flag DEFAULT');
    }
    expect(await recorded('012%')).toHaveLength(1);
  });
});

/** Migrates with the local cluster's shard servers, keeping what the runner said. */
async function migrateLogged() {
  const said: string[] = [];
  const res = await migrate({
    client,
    database,
    cluster,
    dir,
    shardUrls: shardUrls(layout),
    log: (m) => said.push(m),
  });
  return { said, res };
}

async function recorded(like: string) {
  return queryRows<{ name: string }>(
    client,
    `SELECT name FROM ${database}.schema_migrations WHERE name LIKE '${like}'`,
  );
}

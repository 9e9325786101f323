import { describe, expect, it } from 'vitest';
import {
  addedColumns,
  alterClauses,
  ClusterDdlError,
  changesColumns,
  clusterStatements,
  distributedDdl,
  foldShardedAlters,
  redistributeDdl,
  shardUrlCandidates,
} from '../src/clickhouse/cluster-ddl.ts';
import { readMigrations } from '../src/clickhouse/migrations.ts';
import {
  clickhouseClusterLayout,
  clusterConfigXml,
  parseClusterShape,
  shardUrls,
} from '../src/stack/clickhouse-cluster-layout.ts';

const on = { cluster: 'c1' };
const texts = (statement: string) =>
  clusterStatements(statement, on).map((s) => (typeof s === 'string' ? s : s));

describe('cluster mode DDL', () => {
  it('a data table becomes a replicated local table per shard and a Distributed table sharded by visitor', () => {
    const [local, dist] = texts(
      'CREATE TABLE IF NOT EXISTS `db`.sessions_raw\n(\n    site_id String\n)\nENGINE = ReplacingMergeTree(version)\nORDER BY site_id',
    );
    expect(local).toBe(
      "CREATE TABLE IF NOT EXISTS `db`.sessions_raw_local ON CLUSTER `c1` (\n    site_id String\n)\nENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db.sessions_raw_local', '{replica}', version)\nORDER BY site_id",
    );
    expect(dist).toEqual({ distributed: { db: '`db`', name: 'sessions_raw', cluster: 'c1' } });
  });

  it('a small table is replicated to every server under one path, with no Distributed table', () => {
    const out = texts(
      'CREATE TABLE IF NOT EXISTS `db`.sites\n(\n    site_id String\n)\nENGINE = MergeTree\nORDER BY site_id',
    );
    expect(out).toEqual([
      "CREATE TABLE IF NOT EXISTS `db`.sites ON CLUSTER `c1` (\n    site_id String\n)\nENGINE = ReplicatedMergeTree('/clickhouse/tables/global/db.sites', '{replica}')\nORDER BY site_id",
    ]);
  });

  it('materialized views read and write the local tables; views, drops and databases run ON CLUSTER', () => {
    expect(
      texts(
        'CREATE MATERIALIZED VIEW IF NOT EXISTS `db`.mv TO `db`.visitor_first_seen AS\nSELECT site_id FROM `db`.sessions_raw JOIN `db`.sites USING site_id',
      ),
    ).toEqual([
      'CREATE MATERIALIZED VIEW IF NOT EXISTS `db`.mv ON CLUSTER `c1` TO `db`.visitor_first_seen_local AS\nSELECT site_id FROM `db`.sessions_raw_local JOIN `db`.sites USING site_id',
    ]);
    expect(texts('CREATE VIEW IF NOT EXISTS `db`.sessions AS SELECT 1 FROM `db`.sessions_raw')).toEqual([
      'CREATE VIEW IF NOT EXISTS `db`.sessions ON CLUSTER `c1` AS SELECT 1 FROM `db`.sessions_raw',
    ]);
    expect(texts('DROP TABLE IF EXISTS `db`.sessions')).toEqual([
      'DROP TABLE IF EXISTS `db`.sessions ON CLUSTER `c1`',
    ]);
    expect(texts('CREATE DATABASE IF NOT EXISTS `db`')).toEqual([
      'CREATE DATABASE IF NOT EXISTS `db` ON CLUSTER `c1`',
    ]);
    // A small table's ALTER runs on one server: ZooKeeper replicates it.
    expect(texts('ALTER TABLE `db`.sites ADD COLUMN x UInt8')).toEqual([
      'ALTER TABLE `db`.sites ADD COLUMN x UInt8',
    ]);
  });

  it("a data table's ALTER runs on one server per shard (not ON CLUSTER), then its Distributed table is rebuilt", () => {
    expect(texts('ALTER TABLE `db`.sessions_raw\n    MODIFY COLUMN x UInt16')).toEqual([
      {
        shardAlter: {
          db: '`db`',
          database: 'db',
          name: 'sessions_raw',
          body: 'MODIFY COLUMN x UInt16',
          cluster: 'c1',
        },
      },
    ]);
    expect(
      redistributeDdl({ db: '`db`', name: 'events_raw', cluster: 'c1' }, [
        { name: 'site_id', type: 'String', default_type: '', default_expression: '' },
      ]),
    ).toEqual([
      'DROP TABLE IF EXISTS `db`.events_raw ON CLUSTER `c1`',
      'CREATE TABLE IF NOT EXISTS `db`.events_raw ON CLUSTER `c1`\n(\n    `site_id` String\n)\nENGINE = Distributed(`c1`, `db`, events_raw_local, cityHash64(site_id, visitor_id))',
    ]);
  });

  it('refuses what it cannot run safely or does not know', () => {
    expect(() => texts('DROP TABLE IF EXISTS `db`.events_raw')).toThrow(/does not drop data table/);
    expect(() => texts('RENAME TABLE `db`.a TO `db`.b')).toThrow(ClusterDdlError);
    expect(() => texts('RENAME TABLE `db`.a TO `db`.b')).toThrow(/does not know/);
    expect(() => texts('CREATE MATERIALIZED VIEW IF NOT EXISTS `db`.mv ENGINE = Memory AS SELECT 1')).toThrow(
      /TO/,
    );
  });

  it('folds ADD COLUMNs of a sharded table into its CREATE, each after the column it names', () => {
    const folded = foldShardedAlters([
      {
        name: '001',
        statements: [
          'CREATE TABLE IF NOT EXISTS `db`.events_raw\n(\n    a String,\n    b String\n)\nENGINE = MergeTree\nORDER BY a',
        ],
      },
      {
        name: '002',
        statements: [
          'ALTER TABLE `db`.events_raw\n    ADD COLUMN c UInt8 AFTER a,\n    ADD COLUMN d UInt64 MATERIALIZED cityHash64(a)',
          'ALTER TABLE `db`.sites ADD COLUMN e UInt8',
        ],
      },
    ]);
    expect(folded[0]?.statements[0]).toBe(
      'CREATE TABLE IF NOT EXISTS `db`.events_raw\n(\n    a String,\n    c UInt8,\n    b String,\n    d UInt64 MATERIALIZED cityHash64(a)\n)\nENGINE = MergeTree\nORDER BY a',
    );
    expect(folded[1]?.statements).toEqual(['ALTER TABLE `db`.sites ADD COLUMN e UInt8']);
  });

  it('leaves an ALTER of a table not created in the same run, or one that is not only ADD COLUMNs', () => {
    const index = 'ALTER TABLE `db`.events_raw ADD COLUMN c UInt8, ADD INDEX i c TYPE minmax GRANULARITY 1';
    const created =
      'CREATE TABLE IF NOT EXISTS `db`.events_raw\n(\n    a String\n)\nENGINE = MergeTree\nORDER BY a';
    expect(foldShardedAlters([{ name: '001', statements: [created, index] }])[0]?.statements).toEqual([
      created,
      index,
    ]);
    const alter = 'ALTER TABLE `db`.events_raw ADD COLUMN c UInt8';
    expect(foldShardedAlters([{ name: '009', statements: [alter] }])).toEqual([
      { name: '009', statements: [alter] },
    ]);
    const create =
      'CREATE TABLE IF NOT EXISTS `db`.events_raw\n(\n    a String\n)\nENGINE = MergeTree\nORDER BY a';
    const modify = 'ALTER TABLE `db`.events_raw ADD COLUMN c UInt8, MODIFY COLUMN a LowCardinality(String)';
    expect(foldShardedAlters([{ name: '001', statements: [create, modify] }])).toEqual([
      { name: '001', statements: [create, modify] },
    ]);
  });

  it('reads ALTER bodies clause by clause: what they add, whether they change columns', () => {
    const body = "ADD COLUMN a Array(Tuple(String, UInt8)) DEFAULT [('x,y', 1)], ADD COLUMN b UInt8 AFTER a";
    expect(alterClauses(body)).toEqual([
      "ADD COLUMN a Array(Tuple(String, UInt8)) DEFAULT [('x,y', 1)]",
      'ADD COLUMN b UInt8 AFTER a',
    ]);
    expect(addedColumns(body)).toEqual(['a', 'b']);
    expect(addedColumns('ADD COLUMN a UInt8, ADD INDEX i a TYPE minmax GRANULARITY 1')).toBeNull();
    expect(addedColumns('MODIFY COLUMN a UInt16')).toBeNull();
    expect(changesColumns('MODIFY COLUMN a UInt16')).toBe(true);
    expect(changesColumns('DROP COLUMN a')).toBe(true);
    expect(changesColumns("DELETE WHERE site_id = 'a, b'")).toBe(false);
    expect(changesColumns('DROP PARTITION 202601')).toBe(false);
  });

  it('finds one server per shard: given, else STINT_CLICKHOUSE_SHARD_URLS, else the cluster hosts at CLICKHOUSE_URL', () => {
    const base = { hosts: ['ch1', 'ch3'], clickhouseUrl: 'http://u:p@ch0:8123/' };
    expect(shardUrlCandidates({ ...base, given: ['http://a:1'], env: 'http://b:2' })).toEqual(['http://a:1']);
    expect(shardUrlCandidates({ ...base, env: ' http://b:2, http://c:3 ,' })).toEqual([
      'http://b:2',
      'http://c:3',
    ]);
    expect(shardUrlCandidates({ ...base, env: '' })).toEqual(['http://u:p@ch1:8123', 'http://u:p@ch3:8123']);
  });

  it('rewrites every migration of the repository', () => {
    const all = foldShardedAlters(readMigrations('stint'));
    const statements = all.flatMap((m) => m.statements.flatMap((s) => clusterStatements(s, on)));
    const strings = statements.filter((s): s is string => typeof s === 'string');
    expect(statements.length - strings.length).toBe(5); // one Distributed table per sharded table
    expect(strings.filter((s) => /ENGINE = (Replacing|Aggregating)?MergeTree/.test(s))).toEqual([]);
    expect(strings.some((s) => /ALTER TABLE `stint`\.sessions_raw/.test(s))).toBe(false);
  });

  it('builds the Distributed table from the local columns, MATERIALIZED as ALIAS', () => {
    expect(
      distributedDdl({ db: '`db`', name: 'sessions_raw', cluster: 'c1' }, [
        { name: 'site_id', type: 'String', default_type: '', default_expression: '' },
        {
          name: 'k',
          type: 'UInt64',
          default_type: 'MATERIALIZED',
          default_expression: 'cityHash64(site_id)',
        },
        { name: 'd', type: 'UInt8', default_type: 'DEFAULT', default_expression: '0' },
      ]),
    ).toBe(
      'CREATE TABLE IF NOT EXISTS `db`.sessions_raw ON CLUSTER `c1`\n(\n    `site_id` String,\n    `k` UInt64 ALIAS cityHash64(site_id),\n    `d` UInt8 DEFAULT 0\n)\nENGINE = Distributed(`c1`, `db`, sessions_raw_local, cityHash64(site_id, visitor_id))',
    );
  });
});

const twoByTwo = () =>
  clickhouseClusterLayout({
    shards: 2,
    replicas: 2,
    httpPort: 18123,
    tcpPort: 19000,
    zookeeperPort: 12181,
    dir: '/d',
  });

describe('the local ClickHouse cluster layout', () => {
  it('names one server of each shard for the ALTERs of sharded tables', () => {
    const layout = twoByTwo();
    expect(shardUrls(layout)).toEqual(['http://127.0.0.1:18123', 'http://127.0.0.1:18143']);
  });

  it('parses SHARDSxREPLICAS and refuses the rest', () => {
    expect(parseClusterShape(true)).toEqual({ shards: 2, replicas: 2 });
    expect(parseClusterShape('3x1')).toEqual({ shards: 3, replicas: 1 });
    for (const bad of ['1x1', '5x2', '2', 'x', '0x3', '2x2x2'])
      expect(() => parseClusterShape(bad)).toThrow(/SHARDSxREPLICAS/);
  });

  it('gives each server its ports, macros and the whole cluster', () => {
    const layout = twoByTwo();
    expect(layout.nodes.map((n) => [n.name, n.http, n.tcp, n.interserver])).toEqual([
      ['s1r1', 18123, 19000, 19009],
      ['s1r2', 18133, 19010, 19019],
      ['s2r1', 18143, 19020, 19029],
      ['s2r2', 18153, 19030, 19039],
    ]);
    const xml = clusterConfigXml(layout, layout.nodes[2] as (typeof layout.nodes)[number]);
    expect(xml).toContain('<shard>02</shard>');
    expect(xml).toContain('<replica>s2r1</replica>');
    expect(xml).toContain('<interserver_http_port>19029</interserver_http_port>');
    expect(xml.match(/<internal_replication>true<\/internal_replication>/g)).toHaveLength(2);
    expect(xml.match(/<replica><host>/g)).toHaveLength(4);
  });
});

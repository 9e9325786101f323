export {
  type ClickHouseClient,
  type ClickHouseOptions,
  clickhouseDatabase,
  clickhouseUrl,
  clusterSettings,
  createClickHouse,
  createMigrationClient,
  DEFAULT_CLICKHOUSE_URL,
  DEFAULT_DATABASE,
  exec,
  insertRows,
  ping,
  queryRows,
} from './client.ts';
export { clusterStatements, LOCAL_SUFFIX, SHARDED_TABLES } from './cluster-ddl.ts';
export { dropDatabase, type MigrateOptions, type MigrateResult, MigrationError, migrate } from './migrate.ts';
export { MIGRATIONS_DIR, type Migration, readMigrations, splitStatements } from './migrations.ts';
export {
  ident,
  join,
  quote,
  quoteIdentifier,
  RawSql,
  raw,
  SqlQuoteError,
  type SqlValue,
  sql,
  toDateTime,
} from './quote.ts';

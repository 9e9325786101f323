import type { ClickHouseClient } from './client.ts';
import { exec, queryRows } from './client.ts';
import { type Migration, readMigrations } from './migrations.ts';
import { ident, sql } from './quote.ts';

export class MigrationError extends Error {}

export interface MigrateOptions {
  /** Any client; the runner qualifies every name with `database`. */
  client: ClickHouseClient;
  database: string;
  dir?: string;
  log?: (message: string) => void;
}

export interface MigrateResult {
  applied: string[];
  skipped: string[];
}

/**
 * Applies the migrations not yet recorded in `<database>.schema_migrations`, in order. Safe to run
 * twice; refuses to go on when an applied migration's file has changed since (fix forward instead).
 */
export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  const { client, database } = options;
  const log = options.log ?? (() => {});
  const db = ident(database);
  await exec(client, sql`CREATE DATABASE IF NOT EXISTS ${db}`);
  await exec(
    client,
    sql`CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (name String, checksum String, applied_at DateTime)
        ENGINE = MergeTree ORDER BY name`,
  );
  const done = new Map(
    (
      await queryRows<{ name: string; checksum: string }>(
        client,
        sql`SELECT name, checksum FROM ${db}.schema_migrations`,
      )
    ).map((r) => [r.name, r.checksum]),
  );
  const migrations: Migration[] = readMigrations(database, options.dir);
  const result: MigrateResult = { applied: [], skipped: [] };
  for (const m of migrations) {
    const recorded = done.get(m.name);
    if (recorded !== undefined) {
      if (recorded !== m.checksum) {
        throw new MigrationError(
          `migration ${m.name} was changed after it was applied to ${database}; write a new migration instead`,
        );
      }
      result.skipped.push(m.name);
      continue;
    }
    log(`applying ${m.name}`);
    for (const statement of m.statements) {
      try {
        await exec(client, statement);
      } catch (err) {
        throw new MigrationError(`migration ${m.name} failed: ${(err as Error).message}\n${statement}`);
      }
    }
    await exec(
      client,
      sql`INSERT INTO ${db}.schema_migrations (name, checksum, applied_at) VALUES (${m.name}, ${m.checksum}, ${new Date()})`,
    );
    result.applied.push(m.name);
  }
  return result;
}

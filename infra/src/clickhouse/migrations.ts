/**
 * Migration files: `infra/clickhouse/migrations/NNN_name.sql`, applied in order, `{db}` standing for
 * the database name. Statements are separated by a `;` at the end of a line. Kept free of I/O beyond
 * reading the files so the same list feeds the real server and the in-process modern ClickHouse (chdb).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { quoteIdentifier } from './quote.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../clickhouse/migrations/', import.meta.url));
const FILE = /^(\d{3})_[a-z0-9_]+\.sql$/;

export interface Migration {
  name: string;
  checksum: string;
  statements: string[];
}

export function splitStatements(text: string): string[] {
  const withoutComments = text
    .split('\n')
    .filter((line) => !line.trim().startsWith('--'))
    .join('\n');
  return withoutComments
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Reads every migration, in order, with `{db}` replaced by the (validated) database name. */
export function readMigrations(database: string, dir = MIGRATIONS_DIR): Migration[] {
  const db = quoteIdentifier(database);
  const names = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  return names.map((name) => {
    if (!FILE.test(name)) throw new Error(`migration file name must look like 001_name.sql: ${name}`);
    const text = readFileSync(`${dir}/${name}`, 'utf8');
    return {
      name,
      // The checksum covers the file as written, so it does not depend on the database name.
      checksum: createHash('sha256').update(text).digest('hex'),
      statements: splitStatements(text.replaceAll('{db}', db)),
    };
  });
}

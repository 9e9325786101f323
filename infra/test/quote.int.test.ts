import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createClickHouse, queryRows } from '../src/clickhouse/client.ts';
import { quote } from '../src/clickhouse/quote.ts';

const client = createClickHouse({ database: 'default' });
afterAll(() => client.close());

/** Strings that stress a quoting function: quotes, backslashes, escapes, control chars, any unicode. */
const nasty = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom(
      "'",
      '\\',
      '"',
      '`',
      '\n',
      '\r',
      '\t',
      '\0',
      '\x1b',
      'x',
      '%',
      '?',
      ';',
      '-',
      '/',
      '*',
      'é',
      '😀',
      '\u2028',
    ),
    maxLength: 30,
  }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
);

async function roundTrip(values: string[]): Promise<string[]> {
  const rows = await queryRows<{ v: string[] }>(
    client,
    `SELECT [${values.map((v) => quote(v)).join(', ')}] AS v`,
  );
  return rows[0]?.v ?? [];
}

describe('quote against the real ClickHouse server', () => {
  it('round-trips thousands of random strings unchanged', async () => {
    const batches = fc.sample(fc.array(nasty, { minLength: 200, maxLength: 200 }), 15);
    let checked = 0;
    for (const batch of batches) {
      const expected = batch.map((s) => (s.isWellFormed() ? s : s.toWellFormed()));
      expect(await roundTrip(batch)).toEqual(expected);
      checked += batch.length;
    }
    expect(checked).toBe(3000);
  });

  it('keeps injection attempts inside the literal', async () => {
    const attacks = ["' OR 1=1 --", "'; DROP DATABASE stint; --", "\\'; SELECT 1; --", '\\', "'''", '\\x27'];
    expect(await roundTrip(attacks)).toEqual(attacks);
  });
});

import { describe, expect, it } from 'vitest';
import {
  join,
  quote,
  quoteIdentifier,
  raw,
  SqlQuoteError,
  sql,
  toDateTime,
} from '../src/clickhouse/quote.ts';

describe('quote', () => {
  it('wraps strings in single quotes and escapes quotes and backslashes', () => {
    expect(quote("it's")).toBe("'it\\'s'");
    expect(quote('a\\b')).toBe("'a\\\\b'");
    expect(quote("\\'")).toBe("'\\\\\\''");
  });

  it('writes control characters as hex escapes so a literal never spans lines', () => {
    expect(quote('a\nb\u0000c\u007f')).toBe("'a\\x0ab\\x00c\\x7f'");
  });

  it('replaces lone surrogates, which have no UTF-8 form, with U+FFFD', () => {
    expect(quote('x\ud800y')).toBe("'x\ufffdy'");
  });

  it('renders numbers, booleans, null, dates and arrays', () => {
    expect(quote(42)).toBe('42');
    expect(quote(-1.5)).toBe('-1.5');
    expect(quote(true)).toBe('1');
    expect(quote(null)).toBe('NULL');
    expect(quote(new Date(Date.UTC(2026, 0, 2, 3, 4, 5)))).toBe("'2026-01-02 03:04:05'");
    expect(quote(['a', 1])).toBe("['a', 1]");
  });

  it('refuses values it cannot render exactly', () => {
    expect(() => quote(Number.NaN)).toThrow(SqlQuoteError);
    expect(() => quote(Number.POSITIVE_INFINITY)).toThrow(SqlQuoteError);
    expect(() => toDateTime(new Date('nope'))).toThrow(SqlQuoteError);
  });
});

describe('quoteIdentifier', () => {
  it('accepts plain identifiers and refuses anything else', () => {
    expect(quoteIdentifier('stint_test_1')).toBe('`stint_test_1`');
    for (const bad of ['', '1abc', 'a-b', 'a`b', 'a b', 'db.table', "x'; DROP TABLE t; --"]) {
      expect(() => quoteIdentifier(bad)).toThrow(SqlQuoteError);
    }
  });
});

describe('sql template', () => {
  it('quotes every interpolation and inlines trusted fragments as they are', () => {
    const site = "evil' OR 1=1 --";
    const q = sql`SELECT 1 FROM t WHERE site_id = ${site} AND ${raw('x = 1')} AND y IN (${join([1, 2])})`;
    expect(q.text).toBe("SELECT 1 FROM t WHERE site_id = 'evil\\' OR 1=1 --' AND x = 1 AND y IN (1, 2)");
  });
});

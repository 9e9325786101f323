/**
 * The one literal-quoting function. ClickHouse 18.16 has no server-side query parameters, so every
 * value that reaches SQL is inlined through `quote` (or the `sql` template, which calls it).
 * Strings become single-quoted literals with backslash escapes; control characters are written as
 * \xHH so a literal never spans lines; lone UTF-16 surrogates (which have no UTF-8 form) become U+FFFD.
 */
export type SqlValue = string | number | bigint | boolean | Date | null | readonly SqlValue[];

export class SqlQuoteError extends Error {}

const ESCAPES: Record<string, string> = { '\\': '\\\\', "'": "\\'" };

function quoteString(s: string): string {
  const wellFormed = s.isWellFormed() ? s : s.toWellFormed();
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control characters is the point
  const escaped = wellFormed.replace(/[\\'\u0000-\u001f\u007f]/g, (c) => {
    const known = ESCAPES[c];
    if (known) return known;
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
  return `'${escaped}'`;
}

/** `YYYY-MM-DD hh:mm:ss` in UTC, the text form of a ClickHouse DateTime (server time zone UTC). */
export function toDateTime(value: Date | number): string {
  const d = typeof value === 'number' ? new Date(value) : value;
  if (Number.isNaN(d.getTime())) throw new SqlQuoteError('invalid date');
  return d.toISOString().slice(0, 19).replace('T', ' ');
}

export function quote(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'string') return quoteString(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new SqlQuoteError(`cannot quote non-finite number ${value}`);
    return Number.isInteger(value) ? value.toFixed(0) : String(value);
  }
  if (value instanceof Date) return quoteString(toDateTime(value));
  if (Array.isArray(value)) return `[${value.map((v) => quote(v)).join(', ')}]`;
  throw new SqlQuoteError(`cannot quote a value of type ${typeof value}`);
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Database, table and column names: only plain identifiers are accepted, never quoted user input. */
export function quoteIdentifier(name: string): string {
  if (!IDENTIFIER.test(name)) throw new SqlQuoteError(`not a valid identifier: ${JSON.stringify(name)}`);
  return `\`${name}\``;
}

/** A trusted SQL fragment (written by us, never built from input) that `sql` inlines as-is. */
export class RawSql {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export function raw(text: string): RawSql {
  return new RawSql(text);
}

/** Joins fragments and values (values quoted) with a separator, e.g. for optional WHERE clauses. */
export function join(parts: readonly (RawSql | SqlValue)[], separator = ', '): RawSql {
  return raw(parts.map((p) => (p instanceof RawSql ? p.text : quote(p))).join(separator));
}

/**
 * Tagged template: sql`SELECT count() FROM t WHERE site_id = ${site}` quotes every interpolation;
 * a `RawSql` (from `raw`, `join`, `ident` or a nested `sql`) is inlined as-is.
 */
export function sql(strings: TemplateStringsArray, ...values: (RawSql | SqlValue)[]): RawSql {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += v instanceof RawSql ? v.text : quote(v);
    out += strings[i + 1] ?? '';
  });
  return raw(out);
}

/** An identifier as a fragment for `sql`: sql`SELECT * FROM ${ident(db)}.sessions`. */
export function ident(name: string): RawSql {
  return raw(quoteIdentifier(name));
}

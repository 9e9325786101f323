import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type ClickHouseClient, insertRows, queryRows } from '../clickhouse/client.ts';
import { ident, sql, toDateTime } from '../clickhouse/quote.ts';

export type TokenScope = 'ingest' | 'read';
export const TOKEN_SCOPES: readonly TokenScope[] = ['ingest', 'read'];
/** A token whose site is `*` may act on every site. */
export const ALL_SITES = '*';

export interface TokenInfo {
  token_id: string;
  site_id: string;
  scope: TokenScope;
  label: string;
  created_at: string;
  revoked: boolean;
}

export function hashToken(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

const TOKEN_FORMAT = /^stint_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$/;

/** Creates a token; the secret is returned once and only its hash is stored. */
export async function createToken(
  client: ClickHouseClient,
  database: string,
  input: { site: string; scope: TokenScope; label?: string },
): Promise<{ id: string; secret: string }> {
  const id = randomBytes(6).toString('hex');
  const secret = `stint_${id}_${randomBytes(32).toString('base64url')}`;
  await insertRows(client, `${database}.api_tokens`, [
    {
      token_id: id,
      token_hash: hashToken(secret),
      site_id: input.site,
      scope: input.scope,
      label: input.label ?? '',
      created_at: toDateTime(Date.now()),
      revoked: 0,
      version: Date.now(),
    },
  ]);
  return { id, secret };
}

interface TokenRow {
  token_id: string;
  token_hash: string;
  site_id: string;
  scope: TokenScope;
  label: string;
  created_at: string;
  revoked: number;
}

async function tokenRows(client: ClickHouseClient, database: string, id?: string): Promise<TokenRow[]> {
  const where = id === undefined ? sql`1` : sql`token_id = ${id}`;
  return queryRows<TokenRow>(
    client,
    sql`SELECT token_id, token_hash, site_id, scope, label, toString(created_at) AS created_at, revoked
        FROM ${ident(database)}.api_tokens FINAL WHERE ${where} ORDER BY created_at`,
  );
}

export async function listTokens(client: ClickHouseClient, database: string): Promise<TokenInfo[]> {
  return (await tokenRows(client, database)).map(({ token_hash: _h, ...r }) => ({
    ...r,
    revoked: Number(r.revoked) === 1,
  }));
}

export async function revokeToken(client: ClickHouseClient, database: string, id: string): Promise<boolean> {
  const row = (await tokenRows(client, database, id))[0];
  if (!row) return false;
  await insertRows(client, `${database}.api_tokens`, [{ ...row, revoked: 1, version: Date.now() + 1 }]);
  return true;
}

export interface VerifiedToken {
  token_id: string;
  site_id: string;
  scope: TokenScope;
}

/**
 * Checks a bearer secret. Returns the token when it exists, is not revoked, has `scope`, and (when
 * `site` is given) belongs to that site or to all sites. The lookup is by id; the hash comparison is
 * constant-time.
 */
export async function verifyToken(
  client: ClickHouseClient,
  database: string,
  secret: string,
  need: { scope: TokenScope; site?: string },
): Promise<VerifiedToken | null> {
  const m = TOKEN_FORMAT.exec(secret);
  if (!m?.[1]) return null;
  const row = (await tokenRows(client, database, m[1]))[0];
  if (!row || Number(row.revoked) === 1 || row.scope !== need.scope) return null;
  const a = Buffer.from(row.token_hash, 'hex');
  const b = Buffer.from(hashToken(secret), 'hex');
  if (a.length !== b.length || !timingSafeEqual(a, b)) return null;
  if (need.site !== undefined && row.site_id !== ALL_SITES && row.site_id !== need.site) return null;
  return { token_id: row.token_id, site_id: row.site_id, scope: row.scope };
}

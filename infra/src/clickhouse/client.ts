import { type ClickHouseClient, type ClickHouseSettings, createClient } from '@clickhouse/client';
import type { RawSql } from './quote.ts';

export type { ClickHouseClient } from '@clickhouse/client';

export const DEFAULT_CLICKHOUSE_URL = 'http://127.0.0.1:18123';
export const DEFAULT_DATABASE = 'stint';

export interface ClickHouseOptions {
  /** `http://user:password@host:port`; default `CLICKHOUSE_URL` or the local stack's server. */
  url?: string;
  /** Database that unqualified names resolve to; default `CLICKHOUSE_DATABASE` or `stint`. */
  database?: string;
  requestTimeoutMs?: number;
  /** Settings sent with every query, on top of cluster mode's (see clusterSettings). */
  settings?: ClickHouseSettings;
}

/**
 * What cluster mode (STINT_CLICKHOUSE_CLUSTER, infra/src/clickhouse/cluster-ddl.ts) asks of every
 * query: inserts into a Distributed table return once each shard has the rows (not when they are
 * queued on the server that took them), so a service that commits its Kafka offsets after an insert
 * commits only stored rows; and subqueries over Distributed tables run on each shard against its
 * local table, which is right because every table is sharded by visitor (all of a visitor's rows on
 * one shard); and replicas are read in order. Single-node mode sends no settings (18.16 rejects settings it does not know).
 */
export function clusterSettings(env: NodeJS.ProcessEnv = process.env): ClickHouseSettings {
  if (!env.STINT_CLICKHOUSE_CLUSTER) return {};
  // in_order: reads go to the first replica of a shard that answers, the one the api's part listing
  // reads too (api/src/partitions.ts), not to a random one.
  // insert_deduplicate off: replicated tables keep every insert block as a single node's tables do
  // (exactly-once never relied on dropping repeated blocks; see sessionizer/README.md).
  return {
    insert_distributed_sync: 1,
    distributed_product_mode: 'local',
    load_balancing: 'in_order',
    insert_deduplicate: 0,
  };
}

export function clickhouseUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.CLICKHOUSE_URL || DEFAULT_CLICKHOUSE_URL;
}

export function clickhouseDatabase(env: NodeJS.ProcessEnv = process.env): string {
  return env.CLICKHOUSE_DATABASE || DEFAULT_DATABASE;
}

/** The one client factory every part uses. */
export function createClickHouse(options: ClickHouseOptions = {}): ClickHouseClient {
  const url = new URL(options.url ?? clickhouseUrl());
  const username = decodeURIComponent(url.username) || 'default';
  const password = decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  return createClient({
    url: url.toString().replace(/\/$/, ''),
    username,
    password,
    database: options.database ?? clickhouseDatabase(),
    request_timeout: options.requestTimeoutMs ?? 30_000,
    // 18.16 rejects settings it does not know; send none by default.
    clickhouse_settings: { ...clusterSettings(), ...options.settings },
    compression: { request: false, response: false },
    // The server closes idle keep-alive sockets after 10 s (our config); the client drops its own after
    // 2.5 s, and on a busy 2-core box it must not reuse one whose timer fired late.
    keep_alive: { enabled: true, idle_socket_ttl: 2500, eagerly_destroy_stale_sockets: true },
  });
}

/**
 * A client for migrations: in cluster mode every ON CLUSTER statement waits until each server ran
 * it (distributed_ddl_task_timeout, 180 s by default), and a busy DDL queue makes that seconds or
 * more. Progress headers keep the HTTP connection alive meanwhile.
 */
export function createMigrationClient(options: ClickHouseOptions = {}): ClickHouseClient {
  return createClickHouse({
    database: 'default',
    requestTimeoutMs: 200_000,
    ...options,
    settings: {
      send_progress_in_http_headers: 1,
      http_headers_progress_interval_ms: '20000',
      ...options.settings,
    },
  });
}

/** Runs a query built with `sql` and returns its rows (JSONEachRow). */
export async function queryRows<T>(client: ClickHouseClient, query: RawSql | string): Promise<T[]> {
  const rs = await client.query({ query: String(query), format: 'JSONEachRow' });
  return rs.json<T>();
}

/** Runs a statement that returns nothing (DDL, ALTER, OPTIMIZE). */
export async function exec(client: ClickHouseClient, statement: RawSql | string): Promise<void> {
  await client.command({ query: String(statement) });
}

/** Inserts rows as JSONEachRow. `table` may be `db.table`; it is never built from input. */
export async function insertRows(
  client: ClickHouseClient,
  table: string,
  rows: readonly Record<string, unknown>[],
): Promise<void> {
  if (rows.length === 0) return;
  await client.insert({ table, values: rows as Record<string, unknown>[], format: 'JSONEachRow' });
}

/** True when the server answers a trivial query. */
export async function ping(client: ClickHouseClient): Promise<boolean> {
  try {
    const r = await client.ping();
    return r.success;
  } catch {
    return false;
  }
}

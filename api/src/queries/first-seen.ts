/**
 * Each visitor's first live session ever (any filter aside), for "returning visitor" and "days since
 * the previous session", read from the per-visitor rollups of migration 006 instead of merging the
 * site's whole session history. `visitor_first_seen` holds the earliest start of any row ever written
 * for a visitor: exact for a visitor without tombstones (every row it has ever had is live, so the
 * earliest is its first live session). Visitors with a tombstone (listed in `visitor_tombstones`,
 * usually few) are computed exactly from `visitor_sessions` (latest version per session id, sorted by
 * visitor, so only their rows are read, through the primary key).
 *
 * Visitors are keyed by `visitor_key` (`cityHash64(visitor_id)`, as in `sessions_raw`), so the sets
 * built from this hold 8-byte integers instead of strings. The rollup is read without FINAL and grouped
 * by that key: FINAL merges the rollup's parts on one thread, which costs 4–10 times more than grouping
 * whenever the rollup has more than one part (the normal state of a table written continuously).
 */
import { ident, type RawSql, sql } from '@stint/infra/clickhouse';
import { dateTime, type ReportParams } from './common.ts';

/**
 * `(SELECT visitor_key, first_ever ...)`: the visitors of the site whose first live session started in
 * `[from, to)`, one row per visitor. Two visitor ids with the same key (a 64-bit hash collision, see
 * METRICS.md) count as one visitor, first seen at the earlier of their first sessions.
 */
export function firstEverSql(p: Pick<ReportParams, 'database' | 'site'>, from: Date, to: Date): RawSql {
  const db = ident(p.database);
  const lower = dateTime(from);
  const upper = dateTime(to);
  const tombstoned = sql`SELECT visitor_id FROM ${db}.visitor_tombstones WHERE site_id = ${p.site}`;
  return sql`(
    SELECT cityHash64(visitor_id) AS visitor_key, min(finalizeAggregation(first_seen)) AS first_ever
    FROM ${db}.visitor_first_seen
    WHERE site_id = ${p.site} AND visitor_id NOT IN (${tombstoned})
    GROUP BY visitor_key
    HAVING first_ever >= ${lower} AND first_ever < ${upper}
    UNION ALL
    SELECT cityHash64(visitor_id) AS visitor_key, min(started_at) AS first_ever
    FROM
    (
      SELECT visitor_id, started_at, deleted
      FROM ${db}.visitor_sessions FINAL
      WHERE site_id = ${p.site} AND visitor_id IN (${tombstoned})
    )
    WHERE deleted = 0
    GROUP BY visitor_id
    HAVING first_ever >= ${lower} AND first_ever < ${upper}
  )`;
}

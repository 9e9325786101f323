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
 * When the rollup is one merged part (`p.clean.firstSeen`, see src/partitions.ts: one row per site and
 * visitor, its state merged), that part is read as it is, without grouping: about a quarter of the
 * cost on 10 M events. `runReport` (src/report-cache.ts) makes sure no part came or went meanwhile.
 * The two forms differ only when two visitor ids share a key (see below): grouped, the key's earliest
 * first session decides; ungrouped, each id's own.
 */
import { ident, type RawSql, sql } from '@stint/infra/clickhouse';
import { dateTime, type ReportParams } from './common.ts';

/**
 * `(SELECT visitor_key, first_ever ...)`: the visitors of the site whose first live session started in
 * `[from, to)`, one row per visitor. Two visitor ids with the same key (a 64-bit hash collision, see
 * METRICS.md) count as one visitor, first seen at the earlier of their first sessions; read from the
 * merged rollup as it is, each id keeps its own row.
 */
export function firstEverSql(
  p: Pick<ReportParams, 'database' | 'site' | 'clean'>,
  from: Date,
  to: Date,
): RawSql {
  const db = ident(p.database);
  const lower = dateTime(from);
  const upper = dateTime(to);
  const tombstoned = sql`SELECT visitor_id FROM ${db}.visitor_tombstones WHERE site_id = ${p.site}`;
  const merged = p.clean?.firstSeen;
  const amended = p.clean?.firstSeenAmended;
  const grouped = (
    where: RawSql,
  ) => sql`SELECT cityHash64(visitor_id) AS visitor_key, min(finalizeAggregation(first_seen)) AS first_ever
    FROM ${db}.visitor_first_seen
    WHERE ${where} AND site_id = ${p.site} AND visitor_id NOT IN (${tombstoned})
    GROUP BY visitor_key
    HAVING first_ever >= ${lower} AND first_ever < ${upper}`;
  const ungrouped = (
    where: RawSql,
  ) => sql`SELECT cityHash64(visitor_id) AS visitor_key, finalizeAggregation(first_seen) AS first_ever
    FROM ${db}.visitor_first_seen
    WHERE ${where} AND site_id = ${p.site} AND first_ever >= ${lower} AND first_ever < ${upper}
      AND visitor_id NOT IN (${tombstoned})`;
  let rollup: RawSql;
  if (merged !== undefined) rollup = ungrouped(sql`_part = ${merged}`);
  else if (amended !== undefined && amended.newer.length > 0) {
    // The merged part ungrouped for the visitors no other part holds; those grouped over all parts.
    // The other parts are named by not being the merged one, so the text stays the same while the
    // sessionizer writes (if the merged part is merged away, every visitor is read grouped). Parts
    // that come while the query runs may be seen by one branch and not the other: runReport's second
    // listing catches that and runs the report again.
    const touched = sql`SELECT visitor_id FROM ${db}.visitor_first_seen WHERE _part != ${amended.merged} AND site_id = ${p.site}`;
    rollup = sql`${ungrouped(sql`_part = ${amended.merged} AND visitor_id NOT IN (${touched})`)}
    UNION ALL
    ${grouped(sql`visitor_id IN (${touched})`)}`;
  } else rollup = grouped(sql`1`);
  return sql`(
    ${rollup}
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

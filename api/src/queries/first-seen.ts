/**
 * Each visitor's first live session ever (any filter aside), for "returning visitor" and "days since
 * the previous session", read from the per-visitor rollups of migration 006 instead of merging the
 * site's whole session history. `visitor_first_seen` holds the earliest start of any row ever written
 * for a visitor: exact for a visitor without tombstones (every row it has ever had is live, so the
 * earliest is its first live session). Visitors with a tombstone (listed in `visitor_tombstones`,
 * usually few) are computed exactly from `visitor_sessions` (latest version per session id, sorted by
 * visitor, so only their rows are read, through the primary key).
 */
import { ident, type RawSql, sql } from '@stint/infra/clickhouse';
import type { ReportParams } from './common.ts';

/** `(SELECT visitor_id, first_ever ...)`: one row per visitor of the site that has any row. */
export function firstEverSql(p: Pick<ReportParams, 'database' | 'site'>): RawSql {
  const db = ident(p.database);
  return sql`(
    SELECT visitor_id, if(exact = 1, exact_first, seen) AS first_ever
    FROM
    (
      SELECT visitor_id, finalizeAggregation(first_seen) AS seen
      FROM ${db}.visitor_first_seen FINAL
      WHERE site_id = ${p.site}
    ) AS r
    ALL LEFT JOIN
    (
      SELECT visitor_id, toUInt8(1) AS exact, min(started_at) AS exact_first
      FROM
      (
        SELECT visitor_id, started_at, deleted
        FROM ${db}.visitor_sessions FINAL
        WHERE site_id = ${p.site}
          AND visitor_id IN (SELECT visitor_id FROM ${db}.visitor_tombstones WHERE site_id = ${p.site})
      )
      WHERE deleted = 0
      GROUP BY visitor_id
    ) AS d USING visitor_id
  )`;
}

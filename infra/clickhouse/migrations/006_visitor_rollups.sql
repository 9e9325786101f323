-- Per-visitor rollups of sessions_raw for the api's "returning visitor" and frequency reports, so that
-- they need not merge a site's whole session history (FINAL) on every request. Both are fed by
-- materialized views on every row written to sessions_raw (live rows, re-writes and tombstones alike),
-- and both stay correct under re-writes because neither sums anything:
--
-- visitor_first_seen: per (site, visitor) the earliest started_at of any row ever written, and the
-- earliest started_at of any tombstone (deleted = 1) row; 4294967295 (2106) when there is none.
-- min() does not care how often a row is written. When first_seen < first_tombstone, the session row
-- holding first_seen was never tombstoned (started_at never changes for a session id, so a tombstone of
-- it would have the same started_at), so it is live and first_seen is exactly the visitor's first live
-- session. Otherwise (rare: a tombstone at or before the earliest row, e.g. a cookieless visit merged
-- into a session opened under the previous visitor id) readers look the visitor up in visitor_sessions.
CREATE TABLE IF NOT EXISTS {db}.visitor_first_seen
(
    site_id String,
    visitor_id String,
    first_seen AggregateFunction(min, DateTime),
    first_tombstone AggregateFunction(min, DateTime)
)
ENGINE = AggregatingMergeTree
ORDER BY (site_id, visitor_id);

-- visitor_sessions: a narrow copy of sessions_raw sorted by visitor (same versions, so FINAL gives the
-- same latest row per session id; visitor_id and started_at never change for an id). For exact lookups
-- of a few visitors by the primary key.
CREATE TABLE IF NOT EXISTS {db}.visitor_sessions
(
    site_id String,
    visitor_id String,
    started_at DateTime,
    session_id String,
    deleted UInt8,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (site_id, visitor_id, started_at, session_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.visitor_first_seen_mv TO {db}.visitor_first_seen AS
SELECT
    site_id,
    visitor_id,
    minState(started_at) AS first_seen,
    minState(if(deleted = 1, started_at, toDateTime(4294967295))) AS first_tombstone
FROM {db}.sessions_raw
GROUP BY site_id, visitor_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.visitor_sessions_mv TO {db}.visitor_sessions AS
SELECT site_id, visitor_id, started_at, session_id, deleted, version
FROM {db}.sessions_raw;

-- Backfill for databases that already hold sessions. Rows written between the views' creation and
-- this copy land twice, which neither table minds (min; same row, same version).
INSERT INTO {db}.visitor_first_seen
SELECT
    site_id,
    visitor_id,
    minState(started_at) AS first_seen,
    minState(if(deleted = 1, started_at, toDateTime(4294967295))) AS first_tombstone
FROM {db}.sessions_raw
GROUP BY site_id, visitor_id;

INSERT INTO {db}.visitor_sessions
SELECT site_id, visitor_id, started_at, session_id, deleted, version
FROM {db}.sessions_raw;

-- Per-visitor rollups of sessions_raw for the api's "returning visitor" and frequency reports, so that
-- they need not merge a site's whole session history (FINAL) on every request. All three are fed by
-- materialized views on every row written to sessions_raw (live rows, re-writes and tombstones alike),
-- and all stay correct under re-writes and replays because none sums anything.

-- visitor_first_seen: per (site, visitor) the earliest started_at of any row ever written (min does not
-- care how often a row is written). Read with FINAL and finalizeAggregation(first_seen). For a visitor
-- without any tombstone row this is exactly the start of the visitor's first live session. With one it
-- may be a tombstoned session's start (a cookieless visit merged into a session opened under the
-- previous visitor id keeps that id; a late event in the same second moves the start to another id).
CREATE TABLE IF NOT EXISTS {db}.visitor_first_seen
(
    site_id String,
    visitor_id String,
    first_seen AggregateFunction(min, DateTime)
)
ENGINE = AggregatingMergeTree
ORDER BY (site_id, visitor_id);

-- visitor_tombstones: the visitors that have at least one tombstone row (usually few).
CREATE TABLE IF NOT EXISTS {db}.visitor_tombstones
(
    site_id String,
    visitor_id String
)
ENGINE = ReplacingMergeTree
ORDER BY (site_id, visitor_id);

-- visitor_sessions: a narrow copy of sessions_raw sorted by visitor, with the same versions, so FINAL
-- gives the same latest row per session id (visitor_id and started_at never change for an id). For
-- exact lookups of the visitors in visitor_tombstones through the primary key.
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
ORDER BY (site_id, visitor_id, started_at, session_id)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.visitor_first_seen_mv TO {db}.visitor_first_seen AS
SELECT site_id, visitor_id, minState(started_at) AS first_seen
FROM {db}.sessions_raw
GROUP BY site_id, visitor_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.visitor_tombstones_mv TO {db}.visitor_tombstones AS
SELECT site_id, visitor_id
FROM {db}.sessions_raw
WHERE deleted = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.visitor_sessions_mv TO {db}.visitor_sessions AS
SELECT site_id, visitor_id, started_at, session_id, deleted, version
FROM {db}.sessions_raw;

-- Backfill for databases that already hold sessions. Rows written between the views' creation and
-- these copies land twice, which none of the tables minds (min; a set; same row, same version).
INSERT INTO {db}.visitor_first_seen
SELECT site_id, visitor_id, minState(started_at) AS first_seen
FROM {db}.sessions_raw
GROUP BY site_id, visitor_id;

INSERT INTO {db}.visitor_tombstones
SELECT site_id, visitor_id
FROM {db}.sessions_raw
WHERE deleted = 1;

INSERT INTO {db}.visitor_sessions
SELECT site_id, visitor_id, started_at, session_id, deleted, version
FROM {db}.sessions_raw;

-- Sessions, one logical row per session id, rewritten as the session grows and when it closes.
-- The sessionizer's contract with this table:
--   * a session id is a hash of (site, visitor, the event that opened the session), so `started_at` never
--     changes for an id: a late event that moves a session's start yields a new id, and the old id is
--     written once more with `deleted = 1` (a tombstone) and a higher version. A session merged into
--     another is tombstoned the same way. The partition and sort key of an id are therefore stable.
--   * `version` grows with every rewrite of an id (replays may write an equal row again: harmless).
-- Analysts read the `sessions` view, which hides versions, tombstones and FINAL.
CREATE TABLE IF NOT EXISTS {db}.sessions_raw
(
    site_id String,
    session_id String,
    visitor_id String,
    started_at DateTime,
    ended_at DateTime,
    duration_s UInt32,
    pageviews UInt32,
    events UInt32,
    engaged_ms UInt64,
    max_scroll_depth UInt8,
    entry_path String,
    exit_path String,
    is_bounce UInt8,
    is_engaged UInt8,
    has_conversion UInt8,
    source String,
    medium String,
    channel String,
    campaign String,
    referrer_host String,
    utm_source String,
    utm_medium String,
    utm_campaign String,
    utm_content String,
    utm_term String,
    country String,
    region String,
    device String,
    browser String,
    os String,
    start_reason String,
    is_final UInt8,
    deleted UInt8,
    version UInt64,
    updated_at DateTime
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(started_at)
ORDER BY (site_id, toDate(started_at), session_id);

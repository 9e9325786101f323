-- Raw events, one row per (site_id, event_id). The sessionizer writes each event with its session id;
-- when a correction (merge, moved start) changes an event's session it writes the event again with a
-- higher `version`. ReplacingMergeTree keeps the highest version, so replays that write the same row
-- twice are harmless. Analysts read the `events` view, never this table.
-- `ts` never changes for an event, so the partition and sort key of an event are stable.
CREATE TABLE IF NOT EXISTS {db}.events_raw
(
    site_id String,
    event_id String,
    ts DateTime,
    ts_ms UInt64,
    received_at DateTime,
    session_id String,
    visitor_id String,
    name String,
    url String,
    path String,
    hostname String,
    referrer String,
    referrer_host String,
    source String,
    medium String,
    channel String,
    campaign String,
    utm_source String,
    utm_medium String,
    utm_campaign String,
    utm_content String,
    utm_term String,
    engaged_ms UInt32,
    scroll_depth UInt8,
    props String,
    country String,
    region String,
    device String,
    browser String,
    os String,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(ts)
ORDER BY (site_id, toDate(ts), event_id);

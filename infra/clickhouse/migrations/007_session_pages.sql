-- Per-session page lists and a numeric visitor key, so that page reports and visitor counts read only
-- `sessions_raw` (one row per session) instead of every page view in `events_raw`, and count distinct
-- visitors over 8-byte integers instead of strings.
--   * page_paths: the distinct paths of the session's page views, in the order of their first view
--     (events sorted by event time, then event id, as the sessionizer sorts them).
--   * page_path_views: the number of page views of each of those paths (same length as page_paths).
--   * visitor_key: cityHash64(visitor_id), computed by ClickHouse on insert (and on read for older
--     parts until they merge). Counting distinct visitor_key values differs from counting distinct
--     visitor_id values only on a 64-bit hash collision: about 3e-8 for a million visitors in a report.
-- One statement (ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS): it applies whole or not at all, and
-- the backfill is the next migration, which can run again.
ALTER TABLE {db}.sessions_raw
    ADD COLUMN page_paths Array(String) AFTER exit_path,
    ADD COLUMN page_path_views Array(UInt32) AFTER page_paths,
    ADD COLUMN visitor_key UInt64 MATERIALIZED cityHash64(visitor_id);


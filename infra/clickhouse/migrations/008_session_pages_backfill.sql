-- Fills the page lists of migration 007 for sessions written before it.
-- Backfill: the latest version of every session written before this migration, written again with the
-- same version and its page lists taken from its page views. For equal versions ReplacingMergeTree
-- keeps the row inserted last, so the copy replaces the original; a newer version written meanwhile by
-- the sessionizer (which fills the lists itself) still wins. The per-visitor rollups see the same rows
-- again, which none of them minds (migration 006).
INSERT INTO {db}.sessions_raw
    (site_id, session_id, visitor_id, started_at, ended_at, duration_s, pageviews, events, engaged_ms,
     max_scroll_depth, entry_path, exit_path, page_paths, page_path_views, is_bounce, is_engaged,
     has_conversion, source, medium, channel, campaign, referrer_host, utm_source, utm_medium, utm_campaign,
     utm_content, utm_term, country, region, device, browser, os, start_reason, is_final, deleted, version,
     updated_at)
SELECT
    site_id, session_id, visitor_id, started_at, ended_at, duration_s, pageviews, events, engaged_ms,
    max_scroll_depth, entry_path, exit_path, paths, views, is_bounce, is_engaged,
    has_conversion, source, medium, channel, campaign, referrer_host, utm_source, utm_medium, utm_campaign,
    utm_content, utm_term, country, region, device, browser, os, start_reason, is_final, deleted, version,
    updated_at
FROM
(
    SELECT *
    FROM {db}.sessions_raw FINAL
    WHERE length(page_paths) = 0 AND pageviews > 0
) AS s
ANY LEFT JOIN
(
    SELECT
        session_id,
        arrayDistinct(ordered) AS paths,
        arrayMap(x -> toUInt32(countEqual(ordered, x)), paths) AS views
    FROM
    (
        SELECT session_id, arrayMap(x -> tupleElement(x, 3), arraySort(groupArray((ts_ms, event_id, path)))) AS ordered
        FROM {db}.events_raw FINAL
        WHERE name = 'pageview'
        GROUP BY session_id
    )
) AS p USING session_id;

-- The analyst view gains the two lists (a view cannot be altered in ClickHouse 18.16: made again).
DROP TABLE IF EXISTS {db}.sessions;

CREATE VIEW IF NOT EXISTS {db}.sessions AS
SELECT
    site_id, session_id, visitor_id, started_at, ended_at, duration_s, pageviews, events, engaged_ms,
    max_scroll_depth, entry_path, exit_path, is_bounce, is_engaged, has_conversion, source, medium, channel,
    campaign, referrer_host, utm_source, utm_medium, utm_campaign, utm_content, utm_term, country, region,
    device, browser, os, start_reason, is_final, page_paths, page_path_views
FROM
(
    SELECT *
    FROM {db}.sessions_raw FINAL
)
WHERE deleted = 0;

-- The analyst contract: stable views over the raw tables. They show exactly the current truth:
-- the latest version of every row (FINAL), without tombstones. Column names here are a promise;
-- add columns freely, never rename or remove one.
-- FINAL sits in an inner query so that the tombstone filter runs after the replacing merge.
CREATE VIEW IF NOT EXISTS {db}.events AS
SELECT
    site_id, event_id, ts, session_id, visitor_id, name, url, path, hostname, referrer, referrer_host,
    source, medium, channel, campaign, utm_source, utm_medium, utm_campaign, utm_content, utm_term,
    engaged_ms, scroll_depth, props, country, region, device, browser, os, received_at
FROM {db}.events_raw FINAL;

CREATE VIEW IF NOT EXISTS {db}.sessions AS
SELECT
    site_id, session_id, visitor_id, started_at, ended_at, duration_s, pageviews, events, engaged_ms,
    max_scroll_depth, entry_path, exit_path, is_bounce, is_engaged, has_conversion, source, medium, channel,
    campaign, referrer_host, utm_source, utm_medium, utm_campaign, utm_content, utm_term, country, region,
    device, browser, os, start_reason, is_final
FROM
(
    SELECT *
    FROM {db}.sessions_raw FINAL
)
WHERE deleted = 0;

CREATE VIEW IF NOT EXISTS {db}.pageviews AS
SELECT site_id, event_id, ts, session_id, visitor_id, url, path, hostname, referrer, referrer_host, source,
    medium, channel, campaign, country, device, browser, os
FROM {db}.events
WHERE name = 'pageview';

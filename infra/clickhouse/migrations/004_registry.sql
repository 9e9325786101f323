-- Site registry and API tokens. Small tables, rewritten whole per row (ReplacingMergeTree by version);
-- readers use FINAL. A deleted site or a revoked token is a new version with the flag set.
CREATE TABLE IF NOT EXISTS {db}.sites
(
    site_id String,
    timezone String,
    gap_s UInt32,
    max_length_s UInt32,
    split_midnight UInt8,
    split_campaign UInt8,
    created_at DateTime,
    deleted UInt8,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY site_id;

-- Tokens: only the SHA-256 of the secret is stored; the secret is shown once at creation.
-- site_id '*' means every site (admin); scope is 'ingest' (POST /api/events) or 'read' (the api).
CREATE TABLE IF NOT EXISTS {db}.api_tokens
(
    token_id String,
    token_hash String,
    site_id String,
    scope String,
    label String,
    created_at DateTime,
    revoked UInt8,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY token_id;

-- Dashboard accounts and sign-in sessions (api/src/auth). Like the registry: small tables rewritten
-- per row (ReplacingMergeTree by version), read with FINAL, the row key bound inside the FINAL query
-- and the mutable flags (deleted, revoked) tested outside it.

-- One row per e-mail address. user_id is new for every add, so grants and sessions of a removed and
-- re-added address do not come back. password_hash is 'scrypt$N$r$p$salt$hash' (parameters stored).
-- authz_version changes with every privilege change; a session made under an older one is rotated.
CREATE TABLE IF NOT EXISTS {db}.users
(
    email String,
    user_id String,
    password_hash String,
    is_admin UInt8,
    authz_version UInt64,
    created_at DateTime,
    deleted UInt8,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY email;

-- Per-site roles: 'viewer' (read the reports) or 'owner' (read, and manage the site later).
CREATE TABLE IF NOT EXISTS {db}.user_grants
(
    user_id String,
    site_id String,
    role String,
    deleted UInt8,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (user_id, site_id);

-- Sign-in sessions. Only the SHA-256 of the session id is stored. A row has two versions at most:
-- 1 when created, 2 when revoked, so no late write of any instance can undo a revocation.
-- created_ms (epoch ms) starts the absolute timeout and is kept when the id is rotated.
CREATE TABLE IF NOT EXISTS {db}.auth_sessions
(
    session_hash String,
    user_id String,
    authz_version UInt64,
    created_ms UInt64,
    ip_prefix String,
    user_agent String,
    country String,
    revoked UInt8,
    revoked_reason String,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY session_hash;

-- Last activity of a session (written at most once a minute per session). The newest time wins, so
-- instances racing to record activity never move it backwards.
CREATE TABLE IF NOT EXISTS {db}.auth_session_activity
(
    session_hash String,
    last_seen_ms UInt64,
    ip_prefix String,
    country String
)
ENGINE = ReplacingMergeTree(last_seen_ms)
ORDER BY session_hash;

-- Sign-in events and unusual-activity signals (signal = 1), and the source of the failed sign-in
-- counts every api instance throttles by. ip_hash is the SHA-256 of the address; ip_prefix its /24
-- (IPv4) or /48 (IPv6) for people to read.
CREATE TABLE IF NOT EXISTS {db}.auth_audit
(
    at DateTime,
    at_ms UInt64,
    kind String,
    signal UInt8,
    email String,
    user_id String,
    ip_hash String,
    ip_prefix String,
    country String,
    user_agent String,
    detail String
)
ENGINE = MergeTree
ORDER BY (kind, at_ms);

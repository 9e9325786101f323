-- The collectors' cookieless salts, shared by every collector of an install (collector/src/enrich/
-- shared-salts.ts). Each row is a candidate: a collector that finds no salt for a day inserts a
-- random one, waits, reads the day back and takes the candidate with the smallest (created_ms, salt);
-- every collector applies the same rule, so all converge on one salt per day.
-- One partition per day: a day older than yesterday is deleted with DROP PARTITION, which removes
-- its part directories from disk at once (no mutation, no merge to wait for; 18.16 has no TTL).
CREATE TABLE IF NOT EXISTS {db}.collector_salts
(
    day Date,
    salt String,
    created_ms UInt64
)
ENGINE = MergeTree
PARTITION BY day
ORDER BY (day, created_ms, salt);

-- The install secret (stable Kafka partitions of cookieless visitors, ids of imported events): the
-- same race rule, never deleted.
CREATE TABLE IF NOT EXISTS {db}.collector_secret
(
    secret String,
    created_ms UInt64
)
ENGINE = MergeTree
ORDER BY (created_ms, secret);

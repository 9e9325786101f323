/**
 * The shared salt store's tests (shared-salts.int.test.ts) on the local ClickHouse cluster, where the
 * salt tables are replicated to every server: racing collectors converge, an old day is dropped from
 * the disk of every server, the cache serves while ClickHouse is unreachable.
 */
import './shared-salts.int.test.ts';

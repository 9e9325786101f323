/**
 * The sessionizer's ClickHouse sink (clickhouse-sink.int.test.ts: any string written reads back as
 * the same row) unchanged against the local clusters, through the Distributed tables.
 */
import './clickhouse-sink.int.test.ts';

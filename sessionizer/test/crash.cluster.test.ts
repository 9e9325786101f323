/**
 * The sessionizer's crash test (crash.int.test.ts: 5 SIGKILLs at random moments, 1 and 2 instances,
 * the clean result afterwards) unchanged against the local clusters: three Kafka brokers and the 2 x 2
 * ClickHouse cluster in cluster mode.
 */
import './crash.int.test.ts';

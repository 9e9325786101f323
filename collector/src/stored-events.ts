/**
 * Which events of an import batch are already stored: what makes an import restartable. An import's
 * event ids come from the log lines (see `import/log-line.ts`), so a second run of the same file sends
 * the same ids; the collector drops those already in `events_raw` before they reach Kafka, so the
 * sessionizer never sees them again. (It would drop a duplicate whose visitor it still holds, but not
 * one of a visit it has already let go: that copy would start a new, partial session.)
 */
import { type ClickHouseClient, ident, join, queryRows, sql } from '@stint/infra/clickhouse';

export interface StoredLookupEvent {
  event_id: string;
  /** Event time, epoch ms. */
  ts: number;
}

/** Answers the ids of `events` (all of `site`) that are stored. */
export type StoredEventIds = (site: string, events: readonly StoredLookupEvent[]) => Promise<Set<string>>;

/**
 * The lookup against ClickHouse: by site, time range and id, which is the table's sort key
 * (site_id, toDate(ts), event_id), so it reads only the granules of those days.
 */
export function clickhouseStoredEventIds(client: ClickHouseClient, database: string): StoredEventIds {
  return async (site, events) => {
    if (events.length === 0) return new Set();
    let from = Number.POSITIVE_INFINITY;
    let to = Number.NEGATIVE_INFINITY;
    for (const e of events) {
      if (e.ts < from) from = e.ts;
      if (e.ts > to) to = e.ts;
    }
    const rows = await queryRows<{ event_id: string }>(
      client,
      sql`SELECT DISTINCT event_id FROM ${ident(database)}.events_raw
          WHERE site_id = ${site}
            AND ts BETWEEN toDateTime(${Math.floor(from / 1000)}) AND toDateTime(${Math.floor(to / 1000)})
            AND event_id IN (${join(events.map((e) => e.event_id))})`,
    );
    return new Set(rows.map((r) => r.event_id));
  };
}

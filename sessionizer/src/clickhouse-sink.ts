/**
 * Buffers `events_raw` and `sessions_raw` rows and writes them in batches. Rows of one session id
 * arrive in ascending versions, so the buffer keeps only the newest per id: a session rewritten by every
 * event of a busy second costs one row per flush, not one per event. Event rows are rewritten only by
 * corrections (rare): they become TabSeparated lines as they arrive, and the rare older version written
 * beside its newer one is harmless (ReplacingMergeTree keeps the highest version). Writes are idempotent,
 * so a flush that fails half-way is simply retried whole.
 */
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@stint/infra/clickhouse';
import type { RowSink, SessionRow } from './state/index.ts';
import { EVENT_COLUMNS, eventLine, SESSION_COLUMNS, sessionLine, tsvBody } from './tsv.ts';

export interface SinkStats {
  /** Milliseconds of each successful flush. */
  onFlush?: (ms: number, rows: { events: number; sessions: number }) => void;
}

export class ClickHouseSink {
  private sessions = new Map<string, SessionRow>();
  /** `events_raw` lines, each without its line feed. */
  private eventLines: string[] = [];

  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
    private readonly stats: SinkStats = {},
  ) {}

  get size(): number {
    return this.sessions.size + this.eventLines.length;
  }

  add(rows: RowSink): void {
    // Built now, so the row objects die young (the lines are what waits for the flush).
    for (const r of rows.events) this.eventLines.push(eventLine(r));
    for (const r of rows.sessions) this.sessions.set(r.session_id, r);
  }

  /** Writes everything buffered; on failure the rows stay buffered (and newer ones keep coalescing). */
  async flush(): Promise<void> {
    if (this.size === 0) return;
    const events = this.eventLines;
    const sessions = this.sessions;
    this.eventLines = [];
    this.sessions = new Map();
    const started = performance.now();
    try {
      // Both tables at once (the server parses them on two cores); settled both before a retry, so
      // that one flush never overlaps the next.
      const results = await Promise.allSettled([
        this.insert('events_raw', EVENT_COLUMNS, events.length === 0 ? '' : `${events.join('\n')}\n`),
        this.insert('sessions_raw', SESSION_COLUMNS, tsvBody(sessions.values(), sessionLine)),
      ]);
      for (const r of results) if (r.status === 'rejected') throw r.reason;
    } catch (err) {
      // Put the rows back under anything newer that arrived meanwhile.
      this.eventLines = events.concat(this.eventLines);
      for (const [k, r] of sessions) if (!this.sessions.has(k)) this.sessions.set(k, r);
      throw err;
    }
    this.stats.onFlush?.(performance.now() - started, { events: events.length, sessions: sessions.size });
  }

  /** One TabSeparated insert (see `tsv.ts`); the table name is one of ours, never input. */
  private async insert(table: string, columns: readonly string[], body: string): Promise<void> {
    if (body === '') return;
    await this.client.insert({
      table: `${this.database}.${table}`,
      columns: columns as [string, ...string[]],
      format: 'TabSeparated',
      values: Readable.from([Buffer.from(body)], { objectMode: false }),
    });
  }
}

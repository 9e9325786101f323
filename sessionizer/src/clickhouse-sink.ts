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
import { ByteChunks } from './byte-chunks.ts';
import type { RowSink, SessionRow } from './state/index.ts';
import { EVENT_COLUMNS, eventLine, SESSION_COLUMNS, sessionLine } from './tsv.ts';

export interface SinkStats {
  /** Milliseconds of each successful flush. */
  onFlush?: (ms: number, rows: { events: number; sessions: number }) => void;
}

export class ClickHouseSink {
  private sessions = new Map<string, SessionRow>();
  /** The `events_raw` insert body so far; after a failed flush, the bodies still owed come first. */
  private eventBodies: ByteChunks[] = [new ByteChunks()];

  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
    private readonly stats: SinkStats = {},
  ) {}

  get size(): number {
    let n = this.sessions.size;
    for (const b of this.eventBodies) n += b.count;
    return n;
  }

  add(rows: RowSink): void {
    // Encoded now, so the row objects and lines die young; the bytes wait outside the heap.
    const body = this.eventBodies[this.eventBodies.length - 1] as ByteChunks;
    for (const r of rows.events) body.appendLine(eventLine(r));
    for (const r of rows.sessions) this.sessions.set(r.session_id, r);
  }

  /** Writes everything buffered; on failure the rows stay buffered (and newer ones keep coalescing). */
  async flush(): Promise<void> {
    if (this.size === 0) return;
    const events = this.eventBodies;
    const sessions = this.sessions;
    this.eventBodies = [new ByteChunks()];
    this.sessions = new Map();
    let eventCount = 0;
    for (const b of events) eventCount += b.count;
    const started = performance.now();
    try {
      // Both tables at once (the server parses them on two cores); settled both before a retry, so
      // that one flush never overlaps the next.
      const sessionBody = new ByteChunks();
      for (const r of sessions.values()) sessionBody.appendLine(sessionLine(r));
      const results = await Promise.allSettled([
        this.insert(
          'events_raw',
          EVENT_COLUMNS,
          events.flatMap((b) => b.chunks()),
        ),
        this.insert('sessions_raw', SESSION_COLUMNS, sessionBody.chunks()),
      ]);
      for (const r of results) if (r.status === 'rejected') throw r.reason;
    } catch (err) {
      // Put the rows back under anything newer that arrived meanwhile.
      this.eventBodies = [...events, ...this.eventBodies];
      for (const [k, r] of sessions) if (!this.sessions.has(k)) this.sessions.set(k, r);
      throw err;
    }
    this.stats.onFlush?.(performance.now() - started, { events: eventCount, sessions: sessions.size });
  }

  /** One TabSeparated insert (see `tsv.ts`); the table name is one of ours, never input. */
  private async insert(table: string, columns: readonly string[], body: Buffer[]): Promise<void> {
    if (body.length === 0) return;
    await this.client.insert({
      table: `${this.database}.${table}`,
      columns: columns as [string, ...string[]],
      format: 'TabSeparated',
      values: Readable.from(body, { objectMode: false }),
    });
  }
}

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Counters } from './state/index.ts';

export function createMetrics() {
  const registry = new Registry();
  // Process metrics: CPU, heap, RSS, GC pauses, event-loop lag.
  collectDefaultMetrics({ register: registry, prefix: 'stint_sessionizer_' });
  const counter = (name: string, help: string) => new Counter({ name, help, registers: [registry] });
  // The state gauges cost a walk over every visitor state: they are computed when read (a scrape),
  // once for all of them, not on every batch.
  let source: () => void = () => undefined;
  let readAt = Number.NEGATIVE_INFINITY;
  const collect = () => {
    const t = performance.now();
    if (t - readAt < 100) return;
    readAt = t;
    source();
  };
  const gauge = (name: string, help: string) => new Gauge({ name, help, registers: [registry], collect });
  const m = {
    registry,
    events: counter('stint_sessionizer_events_total', 'Events sessionized (replays count again)'),
    late: counter('stint_sessionizer_late_events_total', 'Events out of event-time order'),
    veryLate: counter('stint_sessionizer_very_late_events_total', 'Events behind the watermark'),
    veryLateWithoutState: counter(
      'stint_sessionizer_very_late_without_state_total',
      'Very late events whose visitor state was already evicted',
    ),
    duplicates: counter('stint_sessionizer_duplicate_events_total', 'Events with an event id already seen'),
    corrections: counter(
      'stint_sessionizer_corrections_total',
      'Sessions tombstoned by a merge or moved start',
    ),
    reopened: counter(
      'stint_sessionizer_reopened_sessions_total',
      'Final sessions that received events again',
    ),
    pruned: counter(
      'stint_sessionizer_pruned_states_total',
      'Returning visitors whose earlier, final sessions were dropped from memory',
    ),
    invalid: counter(
      'stint_sessionizer_invalid_messages_total',
      'Messages that are not a valid event (skipped)',
    ),
    rowsWritten: new Counter({
      name: 'stint_sessionizer_rows_written_total',
      help: 'Rows written to ClickHouse',
      labelNames: ['table'],
      registers: [registry],
    }),
    flushSeconds: new Histogram({
      name: 'stint_sessionizer_clickhouse_batch_seconds',
      help: 'ClickHouse batch write latency',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    flushErrors: counter('stint_sessionizer_clickhouse_errors_total', 'Failed ClickHouse batch writes'),
    clickhouseUp: new Gauge({
      name: 'stint_sessionizer_clickhouse_up',
      help: '1 while ClickHouse accepts writes',
      registers: [registry],
    }),
    lag: new Gauge({
      name: 'stint_sessionizer_lag_messages',
      help: 'Messages behind the partition high watermark',
      labelNames: ['topic', 'partition'],
      registers: [registry],
      collect,
    }),
    openSessions: gauge('stint_sessionizer_open_sessions', 'Sessions not yet final, in memory'),
    visitorStates: gauge('stint_sessionizer_visitor_states', 'Visitor states in memory'),
    heldEvents: gauge('stint_sessionizer_held_events', 'Events held in memory for open visitor states'),
  };
  m.clickhouseUp.set(1);
  /** Sets the function that fills the state gauges when they are read. */
  const setGaugeSource = (fn: () => void) => {
    source = fn;
  };
  return { ...m, setGaugeSource };
}

export type Metrics = ReturnType<typeof createMetrics>;

const KEYS = [
  'events',
  'late',
  'veryLate',
  'veryLateWithoutState',
  'duplicates',
  'corrections',
  'reopened',
  'pruned',
] as const;

/** Adds what a state's counters gained since `seen` to the metrics, and updates `seen`. */
export function addCounters(m: Metrics, now: Counters, seen: Counters): void {
  for (const k of KEYS) {
    const d = now[k] - seen[k];
    if (d > 0) m[k].inc(d);
    seen[k] = now[k];
  }
}

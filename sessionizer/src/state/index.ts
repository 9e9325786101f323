/**
 * The pure session state machine: no I/O. `PartitionState` holds one Kafka partition's sessions;
 * `runStateMachine` feeds it an array (benchmarks, tests); `currentTruth` reduces written rows the way
 * the ClickHouse views do (highest version per id, tombstones hidden).
 */
import type { KafkaEvent } from '@stint/collector/contract';
import { PartitionState } from './partition-state.ts';
import {
  type Counters,
  DEFAULT_LATENESS_MS,
  DEFAULT_RETENTION_MESSAGES,
  DEFAULT_RETENTION_MS,
  DEFAULT_SITE_SETTINGS,
  DEFAULT_SITE_SKEW_MS,
  type EventRow,
  type SessionRow,
  type SiteSettings,
  type StateConfig,
} from './types.ts';

export { emptyCounters, PartitionState } from './partition-state.ts';
export { campaignOf, dateTime, ENGAGED_MS, localDay, sessionId, splitSessions } from './rules.ts';
export * from './types.ts';

export interface RunOptions {
  latenessMs?: number;
  retentionMs?: number;
  retentionMessages?: number;
  siteSkewMs?: number;
  settings?: Partial<SiteSettings> | ((siteId: string) => SiteSettings);
  /** Wall-clock time of a final idle tick, if any (finalizes the last sessions). */
  idleAt?: number;
  /** Keep the rows (default true); a benchmark may drop them to measure the machine alone. */
  keepRows?: boolean;
}

export interface RunResult {
  sessions: SessionRow[];
  events: EventRow[];
  counters: Counters;
  state: PartitionState;
}

export function stateConfig(o: RunOptions = {}): StateConfig {
  const settings = o.settings;
  const fixed: SiteSettings = {
    ...DEFAULT_SITE_SETTINGS,
    ...(typeof settings === 'function' ? {} : settings),
  };
  return {
    latenessMs: o.latenessMs ?? DEFAULT_LATENESS_MS,
    retentionMs: o.retentionMs ?? DEFAULT_RETENTION_MS,
    retentionMessages: o.retentionMessages ?? DEFAULT_RETENTION_MESSAGES,
    siteSkewMs: o.siteSkewMs ?? DEFAULT_SITE_SKEW_MS,
    settingsFor: typeof settings === 'function' ? settings : () => fixed,
  };
}

/** Runs one partition's state machine over events in arrival order (offsets 0, 1, 2, …). */
export function runStateMachine(events: readonly KafkaEvent[], o: RunOptions = {}): RunResult {
  const state = new PartitionState(stateConfig(o));
  const keep = o.keepRows ?? true;
  const sessions: SessionRow[] = [];
  const rows: EventRow[] = [];
  for (let i = 0; i < events.length; i++) {
    state.process({ offset: i, event: events[i] as KafkaEvent });
    const out = state.drain();
    if (keep) {
      for (const r of out.sessions) sessions.push(r);
      for (const r of out.events) rows.push(r);
    }
  }
  if (o.idleAt !== undefined) {
    state.tick(o.idleAt);
    const out = state.drain();
    if (keep) {
      for (const r of out.sessions) sessions.push(r);
      for (const r of out.events) rows.push(r);
    }
  }
  return { sessions, events: rows, counters: state.counters, state };
}

/**
 * What the analyst views show: per id the row with the highest version (later rows win ties, as a
 * ReplacingMergeTree keeps the last inserted), without tombstones.
 */
export function currentTruth(sessions: readonly SessionRow[], events: readonly EventRow[] = []) {
  const s = new Map<string, SessionRow>();
  for (const r of sessions) {
    const prev = s.get(r.session_id);
    if (!prev || r.version >= prev.version) s.set(r.session_id, r);
  }
  const e = new Map<string, EventRow>();
  for (const r of events) {
    const prev = e.get(r.event_id);
    if (!prev || r.version >= prev.version) e.set(r.event_id, r);
  }
  return {
    sessions: [...s.values()]
      .filter((r) => r.deleted === 0)
      .sort((a, b) => (a.session_id < b.session_id ? -1 : 1)),
    events: [...e.values()].sort((a, b) => (a.event_id < b.event_id ? -1 : 1)),
  };
}

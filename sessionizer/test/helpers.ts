import type { KafkaEvent } from '@stint/collector/contract';
import {
  type CommitPoint,
  currentTruth,
  type EventRow,
  PartitionState,
  type RunOptions,
  type SessionRow,
  stateConfig,
} from '../src/state/index.ts';

export const MIN = 60_000;
export const T0 = Date.UTC(2024, 4, 10, 12, 0, 0);

/** A Kafka event with plain defaults: a direct page view of example.com by visitor-1. */
export function ev(id: string, ts: number, o: Partial<KafkaEvent> = {}): KafkaEvent {
  const path = o.path ?? '/';
  return {
    v: 1,
    event_id: id,
    site_id: 'example.com',
    visitor_id: 'visitor-1',
    prev_visitor_id: null,
    ts,
    received_at: ts,
    name: 'pageview',
    url: `https://example.com${path}`,
    path,
    hostname: 'example.com',
    referrer: '',
    referrer_host: '',
    source: '',
    medium: '',
    channel: 'direct',
    campaign: '',
    utm_source: '',
    utm_medium: '',
    utm_campaign: '',
    utm_content: '',
    utm_term: '',
    engaged_ms: 0,
    scroll_depth: 0,
    props: {},
    country: 'FR',
    region: '',
    browser: 'Firefox',
    os: 'Linux',
    device: 'desktop',
    ...o,
  };
}

/** The views' truth without the fields that legitimately depend on when rows were written. */
export function comparable(sessions: readonly SessionRow[], events: readonly EventRow[]) {
  const t = currentTruth(sessions, events);
  return {
    sessions: t.sessions.map(({ version: _v, updated_at: _u, ...rest }) => rest),
    events: t.events.map((e) => [e.event_id, e.session_id] as const),
  };
}

/**
 * Invariants every output must keep: an id's started_at never changes, versions never go down per id
 * (per row key for events), no live session without events, no event pointing at a dead session.
 */
export function checkInvariants(sessions: readonly SessionRow[], events: readonly EventRow[]): void {
  const startedAt = new Map<string, string>();
  const lastVersion = new Map<string, number>();
  for (const r of sessions) {
    const s = startedAt.get(r.session_id);
    if (s !== undefined && s !== r.started_at) throw new Error(`started_at of ${r.session_id} changed`);
    startedAt.set(r.session_id, r.started_at);
    const v = lastVersion.get(r.session_id) ?? -1;
    if (r.version < v) throw new Error(`version of ${r.session_id} went down`);
    lastVersion.set(r.session_id, r.version);
  }
  const eventVersion = new Map<string, number>();
  for (const r of events) {
    const v = eventVersion.get(r.event_id) ?? -1;
    if (r.version < v) throw new Error(`version of event ${r.event_id} went down`);
    eventVersion.set(r.event_id, r.version);
  }
  const t = currentTruth(sessions, events);
  const live = new Map(t.sessions.map((s) => [s.session_id, s]));
  const counts = new Map<string, number>();
  for (const e of t.events) {
    if (!live.has(e.session_id))
      throw new Error(`event ${e.event_id} points at dead session ${e.session_id}`);
    counts.set(e.session_id, (counts.get(e.session_id) ?? 0) + 1);
  }
  for (const s of t.sessions) {
    if (counts.get(s.session_id) !== s.events)
      throw new Error(`session ${s.session_id} has a wrong event count`);
    if (
      new Set(s.page_paths).size !== s.page_paths.length ||
      s.page_path_views.length !== s.page_paths.length ||
      s.page_path_views.reduce((a, b) => a + b, 0) !== s.pageviews
    )
      throw new Error(`session ${s.session_id} has a page list that does not match its page views`);
  }
}

export interface CrashRun {
  /** Commits are taken just before these offsets are processed (the service commits after a flush). */
  commitsAt: Iterable<number>;
  /** The run stops before this offset: everything drained so far counts as written. */
  crashAt: number;
  /** Idle ticks on wall-clock time after these offsets. */
  ticksAt?: Iterable<number>;
}

/**
 * Runs that crash, each restarting from the last commit point the way a restarted service does, then a
 * last run to the end of the log: every row any run wrote, for comparison with a clean run.
 */
export function crashAndReplay(
  events: readonly KafkaEvent[],
  opts: RunOptions,
  plan: { runs: CrashRun[]; idleAt: number },
) {
  const sessions: SessionRow[] = [];
  const rows: EventRow[] = [];
  let commit: CommitPoint = { offset: 0, maxTs: Number.NEGATIVE_INFINITY, sites: new Map(), written: 0 };
  const states: PartitionState[] = [];
  for (const run of [...plan.runs, { commitsAt: [], crashAt: events.length }]) {
    const commitsAt = new Set(run.commitsAt);
    const ticksAt = new Set(run.ticksAt ?? []);
    const state = new PartitionState(stateConfig(opts), {
      maxTs: Number.isFinite(commit.maxTs) ? commit.maxTs : null,
      sites: commit.sites,
      written: commit.written,
    });
    states.push(state);
    for (let i = commit.offset; i < run.crashAt; i++) {
      if (commitsAt.has(i)) commit = state.commitPoint();
      state.process({ offset: i, event: events[i] as KafkaEvent });
      if (ticksAt.has(i)) state.tick(plan.idleAt);
      const out = state.drain();
      sessions.push(...out.sessions);
      rows.push(...out.events);
    }
  }
  const last = states.at(-1) as PartitionState;
  last.tick(plan.idleAt);
  const out = last.drain();
  sessions.push(...out.sessions);
  rows.push(...out.events);
  return { sessions, events: rows, first: states[0] as PartitionState, states, commit };
}

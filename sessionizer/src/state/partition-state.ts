/**
 * The session state of one Kafka partition: a pure, deterministic function of the messages fed to it
 * (plus the watermark input restored from the commit). No I/O: callers feed records and take rows.
 *
 * Determinism is what makes exactly-once possible: every row written while processing the message at
 * offset `o` has version `2(o+1)`, and a replay from a commit point (see `commitPoint`) rebuilds the same
 * state and therefore writes the same rows with the same versions. Idle ticks (wall clock) only set
 * `is_final` (version `2(o+1)+1`) and never change a decision, so they cannot make a replay diverge.
 *
 * A replay starts at the first message of the oldest visitor state in memory. It may also meet the later
 * messages of visitors whose state was dropped before the commit (their earlier messages lie before the
 * commit point) and rebuild those visitors only in part. Such a part is harmless: it is dropped again no
 * later than the whole state was (same last message, no later event time), which happened before the
 * commit, and a replay writes no rows for the messages the previous run had already written (`written`
 * of the commit point). So the commit point need not wait for every visit in progress at some point of
 * the log to end — under continuous traffic it would never move.
 */
import type { KafkaEvent } from '@stint/collector/contract';
import { TimerHeap } from './heap.ts';
import {
  compareHeld,
  dateTime,
  emptySplit,
  eventRow,
  extendSessions,
  type HeldEvent,
  type Span,
  type Split,
  sessionId,
  sessionRow,
} from './rules.ts';
import type {
  CommitPoint,
  Counters,
  EventRow,
  RowSink,
  SessionRow,
  SourceRecord,
  StartReason,
  StateConfig,
  WatermarkInput,
} from './types.ts';

/**
 * What was last written for a live session id. Events are only ever added, so the opening event (the
 * id), the last event and the count determine a session's members; with the reason and finality they
 * determine its row. The row itself is built lazily (see `Pending`).
 */
interface Written {
  reason: StartReason;
  last: HeldEvent;
  count: number;
  final: boolean;
  /** The row as last materialized (for tombstones); null until then. */
  row: SessionRow | null;
  /** The row owed to the next drain, if any. */
  pending: Pending | null;
}

/**
 * A session row owed to the next `drain`: the newest change of an id wins, as it would in the sink and
 * in ReplacingMergeTree. The row is built from `span` at drain time; that equals the row at `version`
 * because any later change of the members either re-marks the id or, for an out-of-order insert, first
 * materializes `row` (see `materialize`). Building rows once per drain instead of once per event is
 * the state machine's main saving.
 */
interface Pending {
  st: VisitorState;
  span: Span | null;
  final: boolean;
  version: number;
  updatedMs: number;
  row: SessionRow | null;
}

/** All we keep of one visitor (and its cookieless aliases): its events since its last quiet period. */
interface VisitorState {
  site: string;
  /** Visitor ids (of `site`) that route to this state. */
  keys: string[];
  events: HeldEvent[];
  /** Sessions of `events`; null after an out-of-order insert, until recomputed. */
  split: Split | null;
  /**
   * Leading spans final by event time and written so, never the last one: an in-order append cannot
   * change them, so `rewrite` skips them (a state kept long holds many final sessions).
   */
  settled: number;
  /** Held events by id (duplicates are found here). */
  eventIds: Map<string, HeldEvent>;
  /** Live session rows as last written, by session id. */
  written: Map<string, Written>;
  maxTs: number;
  minOffset: number;
  maxOffset: number;
  /** The watermark input before this state's first message: what a replay from there starts with. */
  before: WatermarkInput;
  /**
   * A possible cut (see `prune`): the offset of the message that came back after more than gap +
   * retention, the watermark input before it, and the watermark from which the events before it may go.
   */
  cutOffset: number;
  cutBefore: WatermarkInput | null;
  cutDue: number;
  scheduledAt: number;
  /** The offset from which the state may be dropped (see `retentionMessages`), once scheduled. */
  offsetDue: number;
  evicted: boolean;
}

export function emptyCounters(): Counters {
  return {
    events: 0,
    late: 0,
    veryLate: 0,
    veryLateWithoutState: 0,
    duplicates: 0,
    corrections: 0,
    reopened: 0,
    pruned: 0,
  };
}

export class PartitionState {
  readonly counters: Counters = emptyCounters();
  /** site → visitor id → state (nested: no key string built per event). */
  private readonly bySite = new Map<string, Map<string, VisitorState>>();
  private readonly states = new Set<VisitorState>();
  /** Event-time deadlines per site, against that site's watermark. */
  private readonly timers = new Map<string, TimerHeap<VisitorState>>();
  /** The earliest deadline pushed since the last sweep of all sites' timers (see `fireTimers`). */
  private sweepAt = Number.POSITIVE_INFINITY;
  /** Offset deadlines: states whose event-time retention has passed, kept `retentionMessages` longer. */
  private readonly offsetTimers = new TimerHeap<VisitorState>();
  private readonly dirty = new Set<VisitorState>();
  /** Messages before this offset had their rows written by an earlier run (a replay writes none). */
  private readonly written: number;
  /** True while a replay has rows owed only for messages before `written`. */
  private replaying: boolean;
  /** `nextOffset` at the last drain: the rows of every message before it have been taken. */
  private drainedTo = 0;
  /** The partition's largest event time. */
  private maxTs: number;
  /** Each site's largest event time (a site below `maxTs − siteSkewMs` is dragged along). */
  private readonly siteMaxTs = new Map<string, number>();
  /** The watermark input now, built on demand and shared until the next change. */
  private snapshot: WatermarkInput | null = null;
  private lastOffset = -1;
  /** Session rows owed to the next drain, by id. */
  private pendingSessions = new Map<string, Pending>();
  /** Events whose row (event, session, version) is owed to the next drain. */
  private pendingEvents: HeldEvent[] = [];

  /**
   * `start`: the watermark input before the first record fed (from the commit metadata): the
   * partition's largest event time and the sites' own largest times.
   */
  constructor(
    private readonly config: StateConfig,
    start: {
      maxTs: number | null;
      sites?: Iterable<readonly [string, number]>;
      written?: number;
    } = { maxTs: null },
  ) {
    this.written = start.written ?? 0;
    this.replaying = this.written > 0;
    this.maxTs = start.maxTs ?? Number.NEGATIVE_INFINITY;
    for (const [site, ts] of start.sites ?? []) this.siteMaxTs.set(site, ts);
  }

  /** The partition's watermark: its largest event time − the lateness (the leading site's watermark). */
  get watermark(): number {
    return this.maxTs - this.config.latenessMs;
  }

  /** A site's watermark: its own largest event time, or the partition's − the skew if that is later. */
  watermarkOf(site: string): number {
    const own = this.siteMaxTs.get(site) ?? Number.NEGATIVE_INFINITY;
    const dragged = this.maxTs - this.config.siteSkewMs;
    return Math.max(own, dragged) - this.config.latenessMs;
  }

  /** The watermark input now (for a state's replay point): sites dragged along are left out. */
  private input(): WatermarkInput {
    if (this.snapshot) return this.snapshot;
    const dragged = this.maxTs - this.config.siteSkewMs;
    const sites = new Map<string, number>();
    for (const [site, ts] of this.siteMaxTs) {
      if (ts > dragged) sites.set(site, ts);
      else this.siteMaxTs.delete(site);
    }
    this.snapshot = { maxTs: this.maxTs, sites };
    return this.snapshot;
  }

  get nextOffset(): number {
    return this.lastOffset + 1;
  }

  /** Visitor states and held events in memory (for metrics and the memory figures). */
  size(): { visitors: number; events: number; sessions: number; openSessions: number } {
    let events = 0;
    let sessions = 0;
    let open = 0;
    for (const st of this.states) {
      events += st.events.length;
      sessions += st.written.size;
      for (const w of st.written.values()) if (!w.final) open++;
    }
    return { visitors: this.states.size, events, sessions, openSessions: open };
  }

  /**
   * Rows produced since the last call: per session id and per event only the newest, which is all the
   * sink and the ReplacingMergeTree tables keep. None while a replay is still before `written`.
   */
  drain(): RowSink {
    const rows = this.take();
    this.drainedTo = this.nextOffset;
    return this.replaying ? { sessions: [], events: [] } : rows;
  }

  /** Ends a replay's silent part: the rows owed so far were written by the run before. */
  private endReplay(): void {
    this.take();
    this.replaying = false;
  }

  private take(): RowSink {
    const sessions: SessionRow[] = [];
    for (const [id, p] of this.pendingSessions) {
      const row = p.row ?? this.build(p.st, p.span as Span, p.final, p.version, p.updatedMs);
      const w = p.st.written.get(id);
      if (w?.pending === p) {
        w.pending = null;
        w.row = row;
      }
      sessions.push(row);
    }
    this.pendingSessions = new Map();
    const events: EventRow[] = new Array(this.pendingEvents.length);
    for (let i = 0; i < this.pendingEvents.length; i++) {
      const h = this.pendingEvents[i] as HeldEvent;
      events[i] = eventRow(h.e, h.writtenSession, h.rowVersion);
      h.rowVersion = 0;
    }
    this.pendingEvents = [];
    return { sessions, events };
  }

  process(rec: SourceRecord): void {
    const { offset, event: e } = rec;
    if (offset <= this.lastOffset)
      throw new Error(`offset ${offset} after ${this.lastOffset}: records must ascend`);
    if (this.replaying && offset >= this.written) this.endReplay();
    this.lastOffset = offset;
    const c = this.counters;
    c.events++;
    const site = e.site_id;
    const w = this.watermarkOf(site);
    if (e.ts < w + this.config.latenessMs) c.late++;
    if (e.ts < w) c.veryLate++;
    let st = this.route(e);
    if (!st) {
      if (e.ts < w) c.veryLateWithoutState++;
      st = this.create(e, offset);
    } else if (e.ts - st.maxTs > this.config.retentionMs) {
      // Only a visitor back after more than the retention can be back after the horizon: the site's
      // settings are looked up for those alone, not for every event.
      const gapMs = this.config.settingsFor(site).gapMs;
      if (e.ts - st.maxTs > gapMs + this.config.retentionMs) {
        // The visitor is back after more than the horizon: the events before may be cut off (`prune`).
        st.cutOffset = offset;
        st.cutBefore = this.input();
        st.cutDue = st.maxTs + gapMs + this.config.retentionMs;
      }
    }
    st.maxOffset = offset;
    if (e.ts > this.maxTs) {
      this.maxTs = e.ts;
      this.snapshot = null;
    }
    if (e.ts > (this.siteMaxTs.get(site) ?? Number.NEGATIVE_INFINITY)) {
      this.siteMaxTs.set(site, e.ts);
      this.snapshot = null;
    }
    const held = st.eventIds.get(e.event_id);
    if (held) {
      c.duplicates++;
      held.dupOffset = offset;
    } else {
      this.insert(st, { e, offset, writtenSession: '', rowVersion: 0 });
      this.dirty.add(st);
    }
    this.fireTimers(site);
    for (let t = this.offsetTimers.peek(); t && t.at <= offset; t = this.offsetTimers.peek()) {
      this.offsetTimers.pop();
      if (!t.item.evicted && t.at === t.item.offsetDue) this.dirty.add(t.item);
    }
    const version = (offset + 1) * 2;
    for (const d of this.dirty) this.settle(d, version, e.received_at);
    this.dirty.clear();
  }

  /**
   * Wall-clock progress on an idle partition: sessions whose gap has passed by `nowMs` are written
   * final. Decisions (lateness, eviction) keep following event time only.
   */
  tick(nowMs: number, idle: (site: string) => boolean = () => true): void {
    const wIdle = nowMs - this.config.latenessMs;
    if (this.lastOffset < 0) return;
    if (this.replaying) this.endReplay();
    const version = (this.lastOffset + 1) * 2 + 1;
    for (const st of this.states) {
      if (wIdle > this.watermarkOf(st.site) && idle(st.site)) this.rewrite(st, version, nowMs, wIdle, false);
    }
  }

  /**
   * The offset a replay must start from to rebuild this state (the first message of the oldest visitor
   * state in memory), the largest event times seen before it, and how far rows have been taken (call it
   * right after `drain`, before writing what it returned).
   */
  commitPoint(): CommitPoint {
    let offset = this.nextOffset;
    let before = this.input();
    for (const st of this.states) {
      if (st.minOffset < offset) {
        offset = st.minOffset;
        before = st.before;
      }
    }
    const written = Math.max(this.written, this.drainedTo);
    return { offset, maxTs: before.maxTs, sites: before.sites, written };
  }

  private visitors(site: string): Map<string, VisitorState> {
    let m = this.bySite.get(site);
    if (!m) {
      m = new Map();
      this.bySite.set(site, m);
    }
    return m;
  }

  private route(e: KafkaEvent): VisitorState | undefined {
    const byVisitor = this.bySite.get(e.site_id);
    const st = byVisitor?.get(e.visitor_id);
    if (st || e.prev_visitor_id === null || !byVisitor) return st;
    // Cookieless: today's id continues the state of yesterday's id (a visit across midnight).
    const prev = byVisitor.get(e.prev_visitor_id);
    if (prev) {
      byVisitor.set(e.visitor_id, prev);
      prev.keys.push(e.visitor_id);
    }
    return prev;
  }

  private create(e: KafkaEvent, offset: number): VisitorState {
    const st: VisitorState = {
      site: e.site_id,
      keys: [],
      events: [],
      split: null,
      settled: 0,
      eventIds: new Map(),
      written: new Map(),
      maxTs: Number.NEGATIVE_INFINITY,
      minOffset: offset,
      maxOffset: offset,
      before: this.input(),
      cutOffset: -1,
      cutBefore: null,
      cutDue: Number.POSITIVE_INFINITY,
      scheduledAt: Number.POSITIVE_INFINITY,
      offsetDue: Number.POSITIVE_INFINITY,
      evicted: false,
    };
    const byVisitor = this.visitors(e.site_id);
    const keys = [e.visitor_id];
    // Registering yesterday's id too lets its own late events find this state whatever the arrival order.
    if (e.prev_visitor_id !== null) keys.push(e.prev_visitor_id);
    for (const k of keys) {
      if (!byVisitor.has(k)) {
        byVisitor.set(k, st);
        st.keys.push(k);
      }
    }
    this.states.add(st);
    return st;
  }

  private insert(st: VisitorState, h: HeldEvent): void {
    const ev = st.events;
    let i = ev.length;
    while (i > 0 && compareHeld(ev[i - 1] as HeldEvent, h) > 0) i--;
    if (i === ev.length) ev.push(h);
    else {
      // The spans are recomputed (indices shift): owed rows are built first from the spans they were
      // marked with, so a later tombstone of one of these ids carries the content last written.
      this.materialize(st);
      ev.splice(i, 0, h);
      st.split = null;
    }
    st.eventIds.set(h.e.event_id, h);
    if (h.e.ts > st.maxTs) st.maxTs = h.e.ts;
  }

  /**
   * Fires the deadlines `site`'s watermark has passed; when the partition's watermark drags other
   * sites along (past the earliest deadline pushed since the last sweep), theirs too.
   */
  private fireTimers(site: string): void {
    this.fireSite(site);
    if (this.maxTs - this.config.siteSkewMs - this.config.latenessMs <= this.sweepAt) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const [s, heap] of this.timers) {
      this.fireSite(s);
      const t = heap.peek();
      if (t && t.at < earliest) earliest = t.at;
      if (!t) this.timers.delete(s);
    }
    this.sweepAt = earliest;
  }

  private fireSite(site: string): void {
    const heap = this.timers.get(site);
    if (!heap) return;
    const w = this.watermarkOf(site);
    for (let t = heap.peek(); t && t.at < w; t = heap.peek()) {
      heap.pop();
      const st = t.item;
      if (st.evicted || t.at !== st.scheduledAt) continue;
      st.scheduledAt = Number.POSITIVE_INFINITY;
      this.dirty.add(st);
    }
  }

  /**
   * Rewrites a changed state, then schedules its next deadline or drops it: once its site's watermark
   * is past its last event + gap + retention (all its sessions are final) and `retentionMessages`
   * messages have followed its last one.
   */
  private settle(st: VisitorState, version: number, updatedMs: number): void {
    const w = this.watermarkOf(st.site);
    const next = this.rewrite(st, version, updatedMs, w);
    if (st.cutBefore !== null && w > st.cutDue) {
      // The cut also waits `retentionMessages` after the return, as an eviction does: a copy of an
      // old event sent again by a client that retried (an import batch whose answer timed out) comes
      // after the return, and must still find the event it copies (`prune` then gives the cut up).
      const due = st.cutOffset + this.config.retentionMessages;
      if (this.lastOffset >= due) this.prune(st);
      else if (due !== st.offsetDue) {
        st.offsetDue = due;
        this.offsetTimers.push(due, st);
      }
    }
    const gap = this.config.settingsFor(st.site).gapMs;
    if (w > st.maxTs + gap + this.config.retentionMs) {
      const due = st.maxOffset + this.config.retentionMessages;
      if (this.lastOffset >= due) this.evict(st);
      else if (due !== st.offsetDue) {
        st.offsetDue = due;
        this.offsetTimers.push(due, st);
      }
    } else if (next < st.scheduledAt) {
      st.scheduledAt = next;
      let heap = this.timers.get(st.site);
      if (!heap) {
        heap = new TimerHeap();
        this.timers.set(st.site, heap);
      }
      heap.push(next, st);
      if (next < this.sweepAt) this.sweepAt = next;
    }
  }

  /**
   * Recomputes a visitor's sessions and marks what differs from what was written: changed sessions,
   * tombstones for ids that no longer exist (merged or moved start), events whose session changed.
   * Returns the next event-time deadline (a session becoming final, or the state's eviction).
   */
  private rewrite(
    st: VisitorState,
    version: number,
    updatedMs: number,
    wFinal: number,
    eventTime = true,
  ): number {
    const s = this.config.settingsFor(st.site);
    // In-order appends extend the sessions; anything else recomputes them (and may tombstone ids).
    const full = st.split === null;
    st.split ??= emptySplit();
    extendSessions(st.events, st.split, s, s.gapMs + this.config.retentionMs);
    const spans = st.split.spans;
    const events = st.events;
    const alive = full ? new Set<string>() : null;
    let next = st.maxTs + s.gapMs + this.config.retentionMs;
    const from0 = full ? 0 : Math.min(st.settled, spans.length - 1);
    let settled = eventTime ? from0 : st.settled;
    for (let k = from0; k < spans.length; k++) {
      const span = spans[k] as Span;
      const lastH = events[span.end - 1] as HeldEvent;
      const lastTs = lastH.e.ts;
      const final = wFinal > lastTs + s.gapMs;
      if (!final && lastTs + s.gapMs < next) next = lastTs + s.gapMs;
      if (eventTime && final && settled === k && k < spans.length - 1) settled = k + 1;
      const opening = events[span.start] as HeldEvent;
      opening.openId ??= sessionId(opening.e.site_id, opening.e.visitor_id, opening.e.event_id);
      const id = opening.openId;
      alive?.add(id);
      const count = span.end - span.start;
      const prev = st.written.get(id);
      if (
        prev &&
        prev.reason === span.reason &&
        prev.last === lastH &&
        prev.count === count &&
        prev.final === final
      )
        continue;
      if (prev?.final && prev.count !== count) this.counters.reopened++;
      // Members already written with this id: on an in-order append, the first `prev.count` of the span.
      let from = span.start;
      if (prev) {
        if (!full) from += prev.count;
        prev.reason = span.reason;
        prev.last = lastH;
        prev.count = count;
        prev.final = final;
      }
      const p: Pending = { st, span, final, version, updatedMs, row: null };
      if (prev) prev.pending = p;
      else st.written.set(id, { reason: span.reason, last: lastH, count, final, row: null, pending: p });
      this.pendingSessions.set(id, p);
      for (let i = from; i < span.end; i++) {
        const h = events[i] as HeldEvent;
        if (h.writtenSession !== id) {
          if (h.rowVersion === 0) this.pendingEvents.push(h);
          h.writtenSession = id;
          h.rowVersion = version;
        }
      }
    }
    st.settled = settled;
    if (alive === null) return next;
    for (const [id, w] of st.written) {
      if (alive.has(id)) continue;
      const row = w.row as SessionRow;
      this.pendingSessions.set(id, {
        st,
        span: null,
        final: w.final,
        version,
        updatedMs,
        row: { ...row, deleted: 1, version, updated_at: dateTime(updatedMs) },
      });
      st.written.delete(id);
      this.counters.corrections++;
    }
    return next;
  }

  /** Builds the rows this state owes now, before its spans are recomputed. */
  private materialize(st: VisitorState): void {
    for (const w of st.written.values()) {
      const p = w.pending;
      if (!p || p.row !== null) continue;
      p.row = this.build(st, p.span as Span, p.final, p.version, p.updatedMs);
      w.row = p.row;
    }
  }

  private build(
    st: VisitorState,
    span: Span,
    final: boolean,
    version: number,
    updatedMs: number,
  ): SessionRow {
    return sessionRow(st.events, span, final, version, dateTime(updatedMs));
  }

  /**
   * Drops a returning visitor's events from before its cut, so a visitor who keeps coming back does not
   * keep every past session in memory (and does not hold the commit point back). The state left is the
   * one a replay starting at the cut's message would build: every event before the cut came earlier in
   * the log (duplicates included) and ended more than gap + retention before the events after it, so
   * the sessions after it start as `first_visit` either way, and the sessions before it are final and
   * written. When the log does not allow the cut (a late event landed in the prefix), it is given up.
   */
  private prune(st: VisitorState): void {
    const cut = st.cutOffset;
    const before = st.cutBefore as WatermarkInput;
    st.cutBefore = null;
    st.cutDue = Number.POSITIVE_INFINITY;
    const events = st.events;
    let i = 0;
    while (i < events.length && (events[i] as HeldEvent).offset < cut) {
      if (((events[i] as HeldEvent).dupOffset ?? -1) >= cut) return;
      i++;
    }
    if (i === 0) return;
    for (let j = i; j < events.length; j++) if ((events[j] as HeldEvent).offset < cut) return;
    const split = st.split;
    if (split === null) return;
    const k = split.spans.findIndex((span) => span.start === i);
    if (k < 1 || (split.spans[k] as Span).reason !== 'first_visit') return;
    // Rows owed for the dropped sessions are built while their spans still index `events`.
    this.materialize(st);
    for (let j = 0; j < k; j++) {
      const opening = events[(split.spans[j] as Span).start] as HeldEvent;
      if (opening.openId !== undefined) st.written.delete(opening.openId);
    }
    for (let j = 0; j < i; j++) st.eventIds.delete((events[j] as HeldEvent).e.event_id);
    const spans = split.spans.slice(k);
    for (const span of spans) {
      span.start -= i;
      span.end -= i;
    }
    split.spans = spans;
    split.covered -= i;
    st.settled = Math.max(0, st.settled - k);
    st.events = events.slice(i);
    st.minOffset = cut;
    st.before = before;
    // Keep only the ids a replay from the cut would route here: the ids of the events kept and
    // yesterday's id carried by the message at the cut.
    const keep = new Set<string>();
    for (const h of st.events) {
      keep.add(h.e.visitor_id);
      if (h.offset === cut && h.e.prev_visitor_id !== null) keep.add(h.e.prev_visitor_id);
    }
    const byVisitor = this.bySite.get(st.site);
    st.keys = st.keys.filter((key) => {
      if (keep.has(key)) return true;
      if (byVisitor?.get(key) === st) byVisitor.delete(key);
      return false;
    });
    this.counters.pruned++;
  }

  private evict(st: VisitorState): void {
    st.evicted = true;
    const byVisitor = this.bySite.get(st.site);
    if (byVisitor) {
      for (const k of st.keys) if (byVisitor.get(k) === st) byVisitor.delete(k);
      if (byVisitor.size === 0) this.bySite.delete(st.site);
    }
    this.states.delete(st);
  }
}

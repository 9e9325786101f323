/**
 * The session state of one Kafka partition: a pure, deterministic function of the messages fed to it
 * (plus the watermark input restored from the commit). No I/O: callers feed records and take rows.
 *
 * Determinism is what makes exactly-once possible: every row written while processing the message at
 * offset `o` has version `2(o+1)`, and a replay from a commit point (see `commitPoint`) rebuilds the same
 * state and therefore writes the same rows with the same versions. Idle ticks (wall clock) only set
 * `is_final` (version `2(o+1)+1`) and never change a decision, so they cannot make a replay diverge.
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
  type SessionContent,
  type Split,
  sessionContent,
  sessionId,
} from './rules.ts';
import type { CommitPoint, Counters, RowSink, SessionRow, SourceRecord, StateConfig } from './types.ts';

interface Written {
  /** What the row was computed from (see `rewrite`). */
  sig: string;
  row: SessionRow;
}

/** All we keep of one visitor (and its cookieless aliases): its events since its last quiet period. */
interface VisitorState {
  site: string;
  keys: string[];
  events: HeldEvent[];
  /** Sessions of `events`; null after an out-of-order insert, until recomputed. */
  split: Split | null;
  eventIds: Set<string>;
  /** Live session rows as last written, by session id. */
  written: Map<string, Written>;
  maxTs: number;
  minOffset: number;
  maxOffset: number;
  /** The partition's largest event time before this state's first message: the replay input. */
  maxTsBefore: number;
  scheduledAt: number;
  evicted: boolean;
}

/** What is left of an evicted visitor state until the commit point has passed all its messages. */
interface EvictedSpan {
  minOffset: number;
  maxOffset: number;
  maxTsBefore: number;
}

let memoMs = Number.NaN;
let memoText = '';
function memoDateTime(ms: number): string {
  if (ms !== memoMs) {
    memoMs = ms;
    memoText = dateTime(ms);
  }
  return memoText;
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
  };
}

export class PartitionState {
  readonly counters: Counters = emptyCounters();
  private readonly byKey = new Map<string, VisitorState>();
  private readonly states = new Set<VisitorState>();
  private readonly timers = new TimerHeap<VisitorState>();
  private readonly dirty = new Set<VisitorState>();
  private evicted: EvictedSpan[] = [];
  private maxTs: number;
  private lastOffset = -1;
  private out: RowSink = { sessions: [], events: [] };

  /** `maxTs`: the largest event time seen before the first record fed (from the commit metadata). */
  constructor(
    private readonly config: StateConfig,
    start: { maxTs: number | null } = { maxTs: null },
  ) {
    this.maxTs = start.maxTs ?? Number.NEGATIVE_INFINITY;
  }

  get watermark(): number {
    return this.maxTs - this.config.latenessMs;
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
      for (const w of st.written.values()) if (w.row.is_final === 0) open++;
    }
    return { visitors: this.states.size, events, sessions, openSessions: open };
  }

  /** Rows produced since the last call. */
  drain(): RowSink {
    const out = this.out;
    this.out = { sessions: [], events: [] };
    return out;
  }

  process(rec: SourceRecord): void {
    const { offset, event: e } = rec;
    if (offset <= this.lastOffset)
      throw new Error(`offset ${offset} after ${this.lastOffset}: records must ascend`);
    this.lastOffset = offset;
    const c = this.counters;
    c.events++;
    const w = this.watermark;
    if (e.ts < this.maxTs) c.late++;
    if (e.ts < w) c.veryLate++;
    let st = this.route(e);
    if (!st) {
      if (e.ts < w) c.veryLateWithoutState++;
      st = this.create(e, offset);
    }
    st.maxOffset = offset;
    if (e.ts > this.maxTs) this.maxTs = e.ts;
    if (st.eventIds.has(e.event_id)) c.duplicates++;
    else {
      this.insert(st, { e, offset, writtenSession: '' });
      this.dirty.add(st);
    }
    this.fireTimers();
    const version = (offset + 1) * 2;
    for (const d of this.dirty) this.settle(d, version, e.received_at);
    this.dirty.clear();
  }

  /**
   * Wall-clock progress on an idle partition: sessions whose gap has passed by `nowMs` are written
   * final. Decisions (lateness, eviction) keep following event time only.
   */
  tick(nowMs: number): void {
    const wIdle = nowMs - this.config.latenessMs;
    if (this.lastOffset < 0 || wIdle <= this.watermark) return;
    const version = (this.lastOffset + 1) * 2 + 1;
    for (const st of this.states) this.rewrite(st, version, nowMs, wIdle);
  }

  /**
   * The offset a replay must start from to rebuild this state exactly, and the largest event time seen
   * before it. Every visitor state that saw a message at or after the point must have all its messages
   * there, including states evicted since: hence the fixed point over the evicted spans.
   */
  commitPoint(): CommitPoint {
    let offset = this.nextOffset;
    let maxTs = this.maxTs;
    for (const st of this.states) {
      if (st.minOffset < offset) {
        offset = st.minOffset;
        maxTs = st.maxTsBefore;
      }
    }
    for (let changed = true; changed; ) {
      changed = false;
      for (const s of this.evicted) {
        if (s.maxOffset >= offset && s.minOffset < offset) {
          offset = s.minOffset;
          maxTs = s.maxTsBefore;
          changed = true;
        }
      }
    }
    return { offset, maxTs };
  }

  /** Forgets evicted spans wholly before a committed offset. */
  committed(offset: number): void {
    this.evicted = this.evicted.filter((s) => s.maxOffset >= offset);
  }

  private route(e: KafkaEvent): VisitorState | undefined {
    const key = `${e.site_id}|${e.visitor_id}`;
    const st = this.byKey.get(key);
    if (st || e.prev_visitor_id === null) return st;
    // Cookieless: today's id continues the state of yesterday's id (a visit across midnight).
    const prev = this.byKey.get(`${e.site_id}|${e.prev_visitor_id}`);
    if (prev) {
      this.byKey.set(key, prev);
      prev.keys.push(key);
    }
    return prev;
  }

  private create(e: KafkaEvent, offset: number): VisitorState {
    const st: VisitorState = {
      site: e.site_id,
      keys: [],
      events: [],
      split: null,
      eventIds: new Set(),
      written: new Map(),
      maxTs: Number.NEGATIVE_INFINITY,
      minOffset: offset,
      maxOffset: offset,
      maxTsBefore: this.maxTs,
      scheduledAt: Number.POSITIVE_INFINITY,
      evicted: false,
    };
    const keys = [`${e.site_id}|${e.visitor_id}`];
    // Registering yesterday's id too lets its own late events find this state whatever the arrival order.
    if (e.prev_visitor_id !== null) keys.push(`${e.site_id}|${e.prev_visitor_id}`);
    for (const k of keys) {
      if (!this.byKey.has(k)) {
        this.byKey.set(k, st);
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
      ev.splice(i, 0, h);
      st.split = null;
    }
    st.eventIds.add(h.e.event_id);
    if (h.e.ts > st.maxTs) st.maxTs = h.e.ts;
  }

  private fireTimers(): void {
    const w = this.watermark;
    for (let t = this.timers.peek(); t && t.at < w; t = this.timers.peek()) {
      this.timers.pop();
      const st = t.item;
      if (st.evicted || t.at !== st.scheduledAt) continue;
      st.scheduledAt = Number.POSITIVE_INFINITY;
      this.dirty.add(st);
    }
  }

  /** Rewrites a changed state, then schedules its next deadline or evicts it. */
  private settle(st: VisitorState, version: number, updatedMs: number): void {
    const w = this.watermark;
    const next = this.rewrite(st, version, updatedMs, w);
    const gap = this.config.settingsFor(st.site).gapMs;
    if (w > st.maxTs + gap + this.config.retentionMs) this.evict(st);
    else if (next < st.scheduledAt) {
      st.scheduledAt = next;
      this.timers.push(next, st);
    }
  }

  /**
   * Recomputes a visitor's sessions and writes what differs from what was written: changed sessions,
   * tombstones for ids that no longer exist (merged or moved start), events whose session changed.
   * Returns the next event-time deadline (a session becoming final, or the state's eviction).
   */
  private rewrite(st: VisitorState, version: number, updatedMs: number, wFinal: number): number {
    const s = this.config.settingsFor(st.site);
    // In-order appends extend the sessions; anything else recomputes them (and may tombstone ids).
    const full = st.split === null;
    st.split ??= emptySplit();
    extendSessions(st.events, st.split, s, s.gapMs + this.config.retentionMs);
    const spans = st.split.spans;
    const updatedAt = memoDateTime(updatedMs);
    const alive = full ? new Set<string>() : null;
    let next = st.maxTs + s.gapMs + this.config.retentionMs;
    for (const span of spans) {
      const lastTs = (st.events[span.end - 1] as HeldEvent).e.ts;
      const final = wFinal > lastTs + s.gapMs;
      if (!final && lastTs + s.gapMs < next) next = lastTs + s.gapMs;
      const opening = st.events[span.start] as HeldEvent;
      opening.openId ??= sessionId(opening.e.site_id, opening.e.visitor_id, opening.e.event_id);
      const id = opening.openId;
      alive?.add(id);
      // Events are only ever added, so first event, last event and count determine a session's members;
      // with the reason and finality they determine its row: recompute the row only when they change.
      const last = (st.events[span.end - 1] as HeldEvent).e.event_id;
      const sig = `${span.reason}|${last}|${span.end - span.start}|${final ? 1 : 0}`;
      const prev = st.written.get(id);
      if (!prev || prev.sig !== sig) {
        const content: SessionContent = sessionContent(st.events, span, final).content;
        if (prev && prev.row.is_final === 1 && prev.row.events !== content.events) this.counters.reopened++;
        const row: SessionRow = { ...content, version, updated_at: updatedAt };
        this.out.sessions.push(row);
        st.written.set(id, { sig, row });
        // Same signature means same members, all already written with this id.
        for (let i = span.start; i < span.end; i++) {
          const h = st.events[i] as HeldEvent;
          if (h.writtenSession !== id) {
            this.out.events.push(eventRow(h.e, id, version));
            h.writtenSession = id;
          }
        }
      }
    }
    if (alive === null) return next;
    for (const [id, w] of st.written) {
      if (alive.has(id)) continue;
      this.out.sessions.push({ ...w.row, deleted: 1, version, updated_at: updatedAt });
      st.written.delete(id);
      this.counters.corrections++;
    }
    return next;
  }

  private evict(st: VisitorState): void {
    st.evicted = true;
    for (const k of st.keys) if (this.byKey.get(k) === st) this.byKey.delete(k);
    this.states.delete(st);
    this.evicted.push({ minOffset: st.minOffset, maxOffset: st.maxOffset, maxTsBefore: st.maxTsBefore });
  }
}

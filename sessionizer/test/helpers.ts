import type { KafkaEvent } from '@stint/collector/contract';
import { currentTruth, type EventRow, type SessionRow } from '../src/state/index.ts';

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
  }
}

/**
 * The sessions a ledger implies, computed the plainest way (independent of the sessionizer's code):
 * sort each visitor's events by time and cut wherever two consecutive events lie more than the
 * site's gap apart. Then compare that with what ClickHouse's analyst views say.
 */
import { type ClickHouseClient, queryRows, sql } from '@stint/infra/clickhouse';
import type { LedgerEvent } from './load.ts';

export interface RefSession {
  visitor_id: string;
  event_ids: string[];
  started_at: string;
  ended_at: string;
  duration_s: number;
  pageviews: number;
  events: number;
  engaged_ms: number;
  has_conversion: number;
}

const utc = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

export function referenceSessions(ledger: Iterable<LedgerEvent>, gapS: number): RefSession[] {
  const byVisitor = new Map<string, LedgerEvent[]>();
  for (const e of ledger) {
    const list = byVisitor.get(e.visitor_id) ?? [];
    list.push(e);
    byVisitor.set(e.visitor_id, list);
  }
  const sessions: RefSession[] = [];
  for (const [visitor, events] of byVisitor) {
    events.sort((a, b) => a.ts - b.ts);
    let current: LedgerEvent[] = [];
    const close = () => {
      const first = current[0];
      const last = current[current.length - 1];
      if (!first || !last) return;
      sessions.push({
        visitor_id: visitor,
        event_ids: current.map((e) => e.event_id).sort(),
        started_at: utc(first.ts),
        ended_at: utc(last.ts),
        duration_s: Math.floor((last.ts - first.ts) / 1000),
        pageviews: current.filter((e) => e.name === 'pageview').length,
        events: current.length,
        engaged_ms: current.reduce((sum, e) => sum + e.engaged_ms, 0),
        has_conversion: current.some((e) => e.name !== 'pageview' && e.name !== 'engagement') ? 1 : 0,
      });
    };
    let previousTs: number | null = null;
    for (const e of events) {
      if (previousTs !== null && e.ts - previousTs > gapS * 1000) {
        close();
        current = [];
      }
      current.push(e);
      previousTs = e.ts;
    }
    close();
  }
  return sessions;
}

export interface Comparison {
  /** Empty when ClickHouse holds exactly the ledger's events once each and exactly its sessions. */
  problems: string[];
  storedEvents: number;
  storedSessions: number;
  expectedSessions: number;
}

interface StoredEvent {
  event_id: string;
  session_id: string;
  n: string | number;
}
interface StoredSession {
  session_id: string;
  visitor_id: string;
  started_at: string;
  ended_at: string;
  duration_s: number;
  pageviews: number;
  events: number;
  engaged_ms: number;
  has_conversion: number;
  n: string | number;
}

const FIELDS = [
  'visitor_id',
  'started_at',
  'ended_at',
  'duration_s',
  'pageviews',
  'events',
  'engaged_ms',
  'has_conversion',
] as const;

export async function compareWithLedger(
  client: ClickHouseClient,
  site: string,
  ledger: ReadonlyMap<string, LedgerEvent>,
  gapS: number,
): Promise<Comparison> {
  const problems: string[] = [];
  const [events, sessions] = await Promise.all([
    queryRows<StoredEvent>(
      client,
      sql`SELECT event_id, any(session_id) AS session_id, count() AS n
          FROM events WHERE site_id = ${site} GROUP BY event_id`,
    ),
    queryRows<StoredSession>(
      client,
      sql`SELECT session_id, any(visitor_id) AS visitor_id, toString(any(started_at)) AS started_at,
            toString(any(ended_at)) AS ended_at, any(duration_s) AS duration_s, any(pageviews) AS pageviews,
            any(events) AS events, any(engaged_ms) AS engaged_ms, any(has_conversion) AS has_conversion,
            count() AS n
          FROM sessions WHERE site_id = ${site} GROUP BY session_id`,
    ),
  ]);

  // Every acknowledged event exactly once, nothing else.
  const seen = new Set<string>();
  const idsBySession = new Map<string, string[]>();
  for (const e of events) {
    seen.add(e.event_id);
    if (Number(e.n) !== 1) problems.push(`event ${e.event_id} is stored ${e.n} times`);
    if (!ledger.has(e.event_id)) problems.push(`event ${e.event_id} is stored but was never acknowledged`);
    const ids = idsBySession.get(e.session_id) ?? [];
    ids.push(e.event_id);
    idsBySession.set(e.session_id, ids);
  }
  const missing = [...ledger.keys()].filter((id) => !seen.has(id));
  if (missing.length > 0) {
    problems.push(
      `${missing.length} acknowledged events are missing from the events view (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''})`,
    );
  }

  // Sessions: matched by the exact set of their events.
  const stored = new Map<string, StoredSession>();
  for (const s of sessions) {
    if (Number(s.n) !== 1) problems.push(`session ${s.session_id} appears ${s.n} times in the sessions view`);
    const ids = (idsBySession.get(s.session_id) ?? []).sort();
    stored.set(ids.join(','), s);
  }
  for (const sessionId of idsBySession.keys()) {
    if (!sessions.some((s) => s.session_id === sessionId)) {
      problems.push(`events point at session ${sessionId}, which the sessions view does not show`);
    }
  }
  const expected = referenceSessions(ledger.values(), gapS);
  for (const ref of expected) {
    const key = ref.event_ids.join(',');
    const s = stored.get(key);
    if (!s) {
      problems.push(
        `no stored session holds exactly the events of ${ref.visitor_id}'s session from ${ref.started_at} (${ref.events} events)`,
      );
      continue;
    }
    stored.delete(key);
    for (const f of FIELDS) {
      const actual = typeof ref[f] === 'number' ? Number(s[f]) : s[f];
      if (actual !== ref[f]) {
        problems.push(
          `session ${s.session_id} (${ref.visitor_id} from ${ref.started_at}): ${f} is ${actual}, expected ${ref[f]}`,
        );
      }
    }
  }
  for (const s of stored.values()) {
    problems.push(
      `unexpected session ${s.session_id} of ${s.visitor_id} from ${s.started_at} (${s.events} events)`,
    );
  }
  return {
    problems,
    storedEvents: events.length,
    storedSessions: sessions.length,
    expectedSessions: expected.length,
  };
}

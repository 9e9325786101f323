/**
 * Rebuilds a site's sessions for a time range from the stored events (after a changed gap, maximum
 * length or split setting), writing the same tables the sessionizer writes: new session rows,
 * tombstones for session ids that no longer exist, and the events re-tagged with their new session.
 *
 * The range is widened until no session can cross its edges: it takes in every stored session of
 * the range's visitors that overlaps it, and every event of theirs closer to an edge than the
 * larger of the old and the new gap; then the pure state machine runs over those visitors' events
 * (plus the horizon before, for `first_visit`) with the site's current settings. Rows get a version
 * above every version stored for the site, so they win over the sessionizer's rows.
 *
 * Limits: ranges still within the live sessionizer's horizon are refused (its in-memory state would
 * not know of the rebuild); cookieless continuations across midnight are not redone (the stored
 * events do not keep yesterday's visitor id).
 */
import type { KafkaEvent } from '@stint/collector/contract';
import { type ClickHouseClient, ident, insertRows, queryRows, sql } from '@stint/infra/clickhouse';
import { getSite } from '@stint/infra/registry';
import { fromRegistry } from './site-settings.ts';
import {
  currentTruth,
  DEFAULT_LATENESS_MS,
  DEFAULT_RETENTION_MS,
  dateTime,
  type EventRow,
  runStateMachine,
  type SessionRow,
} from './state/index.ts';

export interface ReplayOptions {
  client: ClickHouseClient;
  database: string;
  site: string;
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
  retentionMs?: number;
  latenessMs?: number;
  /** Wall clock (tests): sessions whose gap has passed by then are final. */
  now?: number;
  /** Compute and count, write nothing. */
  dryRun?: boolean;
  /** Rebuild even a range the live sessionizer may still hold in memory. */
  force?: boolean;
}

export interface ReplayResult {
  /** The widened range actually rebuilt (epoch ms). */
  from: number;
  to: number;
  visitors: number;
  events: number;
  sessionsBefore: number;
  sessionsAfter: number;
  tombstoned: number;
  retagged: number;
  version: number;
}

interface StoredEvent extends Omit<EventRow, 'ts_ms' | 'version' | 'engaged_ms' | 'scroll_depth'> {
  ts_ms: string | number;
  engaged_ms: string | number;
  scroll_depth: string | number;
}

type StoredSession = Omit<SessionRow, 'version' | 'updated_at'>;

const MAX_WIDENINGS = 100;

function toKafkaEvent(r: StoredEvent): KafkaEvent {
  let props: Record<string, string> = {};
  try {
    props = JSON.parse(r.props) as Record<string, string>;
  } catch {
    // stored props are always JSON; an unreadable value is kept out rather than failing the replay
  }
  const ts = Number(r.ts_ms);
  return {
    v: 1,
    event_id: r.event_id,
    site_id: r.site_id,
    visitor_id: r.visitor_id,
    prev_visitor_id: null,
    ts,
    received_at: Date.parse(`${r.received_at.replace(' ', 'T')}Z`),
    name: r.name,
    url: r.url,
    path: r.path,
    hostname: r.hostname,
    referrer: r.referrer,
    referrer_host: r.referrer_host,
    source: r.source,
    medium: r.medium,
    channel: r.channel,
    campaign: r.campaign,
    utm_source: r.utm_source,
    utm_medium: r.utm_medium,
    utm_campaign: r.utm_campaign,
    utm_content: r.utm_content,
    utm_term: r.utm_term,
    engaged_ms: Number(r.engaged_ms),
    scroll_depth: Number(r.scroll_depth),
    props,
    country: r.country,
    region: r.region,
    browser: r.browser,
    os: r.os,
    device: r.device,
  };
}

export async function replaySessions(o: ReplayOptions): Promise<ReplayResult> {
  const { client, site } = o;
  const db = ident(o.database);
  const now = o.now ?? Date.now();
  const retentionMs = o.retentionMs ?? DEFAULT_RETENTION_MS;
  const latenessMs = o.latenessMs ?? DEFAULT_LATENESS_MS;
  const registered = await getSite(client, o.database, site);
  if (!registered) throw new Error(`site ${site} is not registered`);
  const settings = fromRegistry(registered);
  const horizon = settings.gapMs + retentionMs;
  if (!o.force && o.to > now - horizon - latenessMs) {
    throw new Error(
      `the range ends within the live sessionizer's horizon (gap + retention + lateness = ${Math.round((horizon + latenessMs) / 60_000)} min before now); use --force if no sessionizer runs`,
    );
  }
  if (o.to <= o.from) throw new Error('--to must be after --from');

  // The range's visitors.
  const visitorsIn = sql`SELECT DISTINCT visitor_id FROM ${db}.events_raw
    WHERE site_id = ${site} AND ts >= toDateTime(${dateTime(o.from)}) AND ts < toDateTime(${dateTime(o.to + 999)}) AND ts_ms >= ${o.from} AND ts_ms < ${o.to}`;

  // Widen until stable: whole stored sessions overlapping the range (so no old session is cut), and
  // events of these visitors within the new gap of an edge (so no new session is cut).
  let lo = o.from;
  let hi = o.to;
  let oldSessions: StoredSession[] = [];
  const edge = settings.gapMs;
  for (let i = 0; ; i++) {
    if (i === MAX_WIDENINGS) throw new Error('the range kept widening (a visitor active without pause?)');
    oldSessions = await queryRows<StoredSession>(
      client,
      // ended_at changes between versions: filter after FINAL. (18.16 fails with "Value of type String
      // in memory is not of fixed size" on a DateTime key column compared with a bare string near FINAL:
      // hence toDateTime() around every literal.)
      sql`SELECT * FROM (
          SELECT * FROM ${db}.sessions_raw FINAL
          WHERE site_id = ${site} AND visitor_id IN (${visitorsIn})
        ) WHERE deleted = 0 AND started_at <= toDateTime(${dateTime(hi)}) AND ended_at >= toDateTime(${dateTime(lo - 999)})`,
    );
    let lo2 = lo;
    let hi2 = hi;
    for (const s of oldSessions) {
      const start = Date.parse(`${s.started_at.replace(' ', 'T')}Z`);
      const end = Date.parse(`${s.ended_at.replace(' ', 'T')}Z`) + 999;
      if (start < lo2) lo2 = start;
      if (end > hi2) hi2 = end;
    }
    // Events of these visitors within a gap of the edges would join a session inside under the new gap.
    const [near] = await queryRows<{ lo: string; hi: string; n: string }>(
      client,
      sql`SELECT min(ts_ms) AS lo, max(ts_ms) AS hi, count() AS n FROM ${db}.events_raw
        WHERE site_id = ${site} AND visitor_id IN (${visitorsIn})
          AND ts_ms >= ${lo2 - edge} AND ts_ms <= ${hi2 + edge}`,
    );
    if (near && Number(near.n) > 0) {
      lo2 = Math.min(lo2, Number(near.lo));
      hi2 = Math.max(hi2, Number(near.hi));
    }
    if (lo2 === lo && hi2 === hi) break;
    lo = lo2;
    hi = hi2;
  }

  // The visitors' events in the widened range, and the horizon before it (context for first_visit).
  const stored = await queryRows<StoredEvent>(
    client,
    sql`SELECT * FROM ${db}.events_raw FINAL
      WHERE site_id = ${site} AND visitor_id IN (${visitorsIn})
        AND ts_ms >= ${lo - horizon} AND ts_ms <= ${hi}
      ORDER BY ts_ms, event_id`,
  );
  const events = stored.map(toKafkaEvent);
  const run = runStateMachine(events, { settings, latenessMs, retentionMs, idleAt: now });
  const truth = currentTruth(run.sessions, run.events);
  const loText = dateTime(lo);
  // Sessions of the context before the range end more than a gap before it: they are left alone.
  const sessions = truth.sessions.filter((s) => s.started_at >= loText);
  const inRange = new Set(sessions.map((s) => s.session_id));
  const eventRows = truth.events.filter((e) => inRange.has(e.session_id));
  const before = new Map(stored.map((e) => [e.event_id, e.session_id]));

  const [maxes] = await queryRows<{ s: string; e: string }>(
    client,
    sql`SELECT (SELECT max(version) FROM ${db}.sessions_raw WHERE site_id = ${site}) AS s,
               (SELECT max(version) FROM ${db}.events_raw WHERE site_id = ${site}) AS e`,
  );
  const version = Math.max(Number(maxes?.s ?? 0), Number(maxes?.e ?? 0)) + 2;
  const updatedAt = dateTime(now);
  const tombstones: SessionRow[] = oldSessions
    .filter((s) => !inRange.has(s.session_id))
    .map((s) => ({ ...s, deleted: 1, version, updated_at: updatedAt }));
  const sessionRows = sessions.map((s) => ({ ...s, version, updated_at: updatedAt }));
  const retagged = eventRows.filter((e) => before.get(e.event_id) !== e.session_id);

  if (!o.dryRun) {
    // Events first: a reader never sees a new session without its events.
    await insertRows(
      client,
      `${o.database}.events_raw`,
      retagged.map((e) => ({ ...e, version })),
    );
    await insertRows(client, `${o.database}.sessions_raw`, [...sessionRows, ...tombstones] as never[]);
  }
  return {
    from: lo,
    to: hi,
    visitors: new Set(events.map((e) => e.visitor_id)).size,
    events: eventRows.length,
    sessionsBefore: oldSessions.length,
    sessionsAfter: sessionRows.length,
    tombstoned: tombstones.length,
    retagged: retagged.length,
    version,
  };
}

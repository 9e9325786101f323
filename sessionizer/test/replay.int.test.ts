/**
 * `stint replay` against real ClickHouse: sessions written under one gap are rebuilt from the stored
 * events under a changed gap, with the ids that no longer exist tombstoned and the events re-tagged;
 * a session reaching over the range's start is rebuilt whole; other visitors and ranges are untouched.
 */
import type { KafkaEvent } from '@stint/collector/contract';
import { insertRows, queryRows } from '@stint/infra/clickhouse';
import { addSite } from '@stint/infra/registry';
import { createTestDatabase, type TestDatabase } from '@stint/infra/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWhen } from '../src/cli.ts';
import { replaySessions } from '../src/replay.ts';
import { runStateMachine, sessionId } from '../src/state/index.ts';
import { ev } from './helpers.ts';

const S = 1000;
const SITE = 'replay.example.com';
const FROM = Date.UTC(2025, 0, 10);
const TO = Date.UTC(2025, 0, 11);
const NOW = Date.UTC(2025, 0, 20);
let db: TestDatabase;

const e = (id: string, ts: number, visitor: string, path = '/'): KafkaEvent =>
  ev(id, ts, { site_id: SITE, visitor_id: visitor, path, hostname: SITE, url: `https://${SITE}${path}` });

const T = FROM + 12 * 3600 * S;
const events = [
  // A: 90 s and 210 s apart: three sessions under a 60 s gap, two under 120 s.
  e('a1', T, 'A', '/a1'),
  e('a2', T + 90 * S, 'A', '/a2'),
  e('a3', T + 300 * S, 'A', '/a3'),
  // D: 80 s apart across the range's start: two sessions under 60 s, one (starting before) under 120 s.
  e('d1', FROM - 50 * S, 'D'),
  e('d2', FROM + 30 * S, 'D'),
  // B: a day later, outside the range: must stay as it is.
  e('b1', TO + 3600 * S, 'B'),
  e('b2', TO + 3690 * S, 'B'),
];
const id = (visitor: string, event: string) => sessionId(SITE, visitor, event);

async function sessions() {
  return queryRows<{ session_id: string; events: number; entry_path: string; exit_path: string }>(
    db.client,
    `SELECT session_id, events, entry_path, exit_path FROM ${db.database}.sessions ORDER BY started_at`,
  );
}

async function eventSessions(): Promise<Record<string, string>> {
  const rows = await queryRows<{ event_id: string; session_id: string }>(
    db.client,
    `SELECT event_id, session_id FROM ${db.database}.events`,
  );
  return Object.fromEntries(rows.map((r) => [r.event_id, r.session_id]));
}

beforeAll(async () => {
  db = await createTestDatabase('replay');
  await addSite(db.client, db.database, { site_id: SITE, gap_s: 60 });
  // What the sessionizer wrote under the 60 s gap (events in arrival order, final by an idle tick).
  const sorted = [...events].sort((x, y) => x.ts - y.ts);
  const r = runStateMachine(sorted, { settings: { gapMs: 60 * S }, idleAt: NOW });
  await insertRows(db.client, `${db.database}.events_raw`, r.events as never[]);
  await insertRows(db.client, `${db.database}.sessions_raw`, r.sessions as never[]);
});

afterAll(async () => {
  await db?.drop();
});

describe('replay', () => {
  it('rebuilds the sessions of a range under a changed gap, tombstoning lost ids and re-tagging events', async () => {
    expect((await sessions()).map((s) => s.session_id)).toEqual([
      id('D', 'd1'),
      id('D', 'd2'),
      id('A', 'a1'),
      id('A', 'a2'),
      id('A', 'a3'),
      id('B', 'b1'),
      id('B', 'b2'),
    ]);
    await addSite(db.client, db.database, { site_id: SITE, gap_s: 120 });
    const r = await replaySessions({
      client: db.client,
      database: db.database,
      site: SITE,
      from: FROM,
      to: TO,
      now: NOW,
    });
    expect(r).toMatchObject({
      from: FROM - 50 * S,
      visitors: 2,
      tombstoned: 2,
      retagged: 2,
      sessionsAfter: 3,
    });

    const after = await sessions();
    expect(after.map((s) => [s.session_id, s.events])).toEqual([
      [id('D', 'd1'), 2],
      [id('A', 'a1'), 2],
      [id('A', 'a3'), 1],
      [id('B', 'b1'), 1],
      [id('B', 'b2'), 1],
    ]);
    expect(after[1]).toMatchObject({ entry_path: '/a1', exit_path: '/a2' });
    const tagged = await eventSessions();
    expect(tagged).toMatchObject({
      a1: id('A', 'a1'),
      a2: id('A', 'a1'),
      a3: id('A', 'a3'),
      d1: id('D', 'd1'),
      d2: id('D', 'd1'),
      b1: id('B', 'b1'),
      b2: id('B', 'b2'),
    });
    // Raw rows: the lost ids were written once more as tombstones.
    const dead = await queryRows<{ session_id: string }>(
      db.client,
      `SELECT session_id FROM (SELECT * FROM ${db.database}.sessions_raw FINAL) WHERE deleted = 1 ORDER BY session_id`,
    );
    expect(dead.map((d) => d.session_id)).toEqual([id('A', 'a2'), id('D', 'd2')].sort());
  });

  it('a second replay of the same range changes nothing', async () => {
    const before = { sessions: await sessions(), events: await eventSessions() };
    const r = await replaySessions({
      client: db.client,
      database: db.database,
      site: SITE,
      from: FROM,
      to: TO,
      now: NOW,
    });
    expect(r).toMatchObject({ tombstoned: 0, retagged: 0, sessionsBefore: 3, sessionsAfter: 3 });
    expect(await sessions()).toEqual(before.sessions);
    expect(await eventSessions()).toEqual(before.events);
  });

  it('refuses a range the live sessionizer may still hold, and an unregistered site', async () => {
    const now = Date.now();
    await expect(
      replaySessions({ client: db.client, database: db.database, site: SITE, from: now - 3600 * S, to: now }),
    ).rejects.toThrow(/horizon/);
    await expect(
      replaySessions({
        client: db.client,
        database: db.database,
        site: 'nope.example',
        from: FROM,
        to: TO,
        now: NOW,
      }),
    ).rejects.toThrow(/not registered/);
  });

  it('reads --from and --to as UTC dates or ISO 8601 times', () => {
    expect(parseWhen('2025-01-10', '--from')).toBe(FROM);
    expect(parseWhen('2025-01-10T12:00:00+01:00', '--from')).toBe(FROM + 11 * 3600 * S);
    expect(() => parseWhen('yesterday', '--from')).toThrow(/--from/);
  });
});

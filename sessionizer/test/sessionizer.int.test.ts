/**
 * Through real Kafka and ClickHouse: events produced to a topic come out as `stint.sessions` rows,
 * corrections (merges, moved starts) leave no ghost, and a restart rebuilds the state by replay
 * from the commit point and carries on as if nothing happened; under continuous traffic the commit
 * point follows the stream and the replay writes nothing the previous run had written.
 */
import { encodeKafkaEvent, type KafkaEvent, kafkaKey } from '@stint/collector/contract';
import { queryRows } from '@stint/infra/clickhouse';
import { createKafka, ensureTopic, type Producer } from '@stint/infra/kafka';
import { addSite } from '@stint/infra/registry';
import { createLogger } from '@stint/infra/service';
import { createTestDatabase, type TestDatabase, uniqueTopic, waitFor } from '@stint/infra/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSessionizer, type Sessionizer } from '../src/sessionizer.ts';
import { sessionId } from '../src/state/index.ts';
import { ev } from './helpers.ts';

const S = 1000;
const T = Date.UTC(2024, 5, 3, 9, 0);
const kafka = createKafka({ clientId: 'sessionizer-int-test' });
let db: TestDatabase;
let topic: string;
let producer: Producer;
const running: Sessionizer[] = [];

function start(groupId: string, options: Partial<Parameters<typeof buildSessionizer>[0]> = {}): Sessionizer {
  const s = buildSessionizer({
    kafka,
    clickhouse: db.client,
    database: db.database,
    topic,
    groupId,
    flushIntervalMs: 100,
    idleMs: 300,
    ...options,
    log: createLogger('sessionizer-test', 'warn'),
  });
  running.push(s);
  return s;
}

async function produce(events: KafkaEvent[], to = topic): Promise<void> {
  await producer.send({
    topic: to,
    acks: -1,
    messages: events.map((e) => ({ key: kafkaKey(e), value: encodeKafkaEvent(e) })),
  });
}

interface SessionView {
  session_id: string;
  visitor_id: string;
  events: number;
  duration_s: number;
  entry_path: string;
  start_reason: string;
  is_final: number;
}

async function sessions(): Promise<SessionView[]> {
  return queryRows<SessionView>(
    db.client,
    `SELECT session_id, visitor_id, events, duration_s, entry_path, start_reason, is_final
     FROM ${db.database}.sessions ORDER BY visitor_id, started_at`,
  );
}

async function eventSessions(): Promise<Record<string, string>> {
  const rows = await queryRows<{ event_id: string; session_id: string }>(
    db.client,
    `SELECT event_id, session_id FROM ${db.database}.events`,
  );
  return Object.fromEntries(rows.map((r) => [r.event_id, r.session_id]));
}

const id = (visitor: string, event: string) => sessionId('int.example.com', visitor, event);

beforeAll(async () => {
  db = await createTestDatabase('sessionizer');
  topic = uniqueTopic('sessionizer');
  await ensureTopic(kafka, topic, 2);
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  // The registry's gap (60 s) applies instead of the default 30 min.
  await addSite(db.client, db.database, { site_id: 'int.example.com', gap_s: 60 });
});

afterAll(async () => {
  for (const s of running) await s.stop().catch(() => undefined);
  await producer?.disconnect();
  await db?.drop();
});

describe('sessionizer through Kafka and ClickHouse', () => {
  it('writes sessions with merges and moved starts corrected, and resumes after a restart', async () => {
    const site = { site_id: 'int.example.com', hostname: 'int.example.com' };
    const v1 = { ...site, visitor_id: 'visitor-one' };
    const v2 = { ...site, visitor_id: 'visitor-two' };
    await produce([
      ev('a1', T, { ...v1, path: '/a' }),
      ev('c1', T + 110 * S, { ...v1, path: '/c' }),
      ev('b2', T + 10 * S, { ...v2, path: '/b' }),
      ev('c2', T + 20 * S, { ...v2, path: '/c' }),
    ]);
    const first = start(`g-${topic}`);
    await first.start();
    // Before the late events: two sessions for visitor-one (gap 60 s), one for visitor-two.
    await waitFor(async () => (await sessions()).length === 3, {
      timeoutMs: 30_000,
      message: 'three sessions',
    });

    // b1 bridges visitor-one's sessions; a2 moves visitor-two's start earlier.
    await produce([ev('b1', T + 55 * S, { ...v1, path: '/b' }), ev('a2', T + 5 * S, { ...v2, path: '/a' })]);
    await waitFor(
      async () => {
        const s = await sessions();
        const ids = s.map((x) => x.session_id).sort();
        const want = [id('visitor-one', 'a1'), id('visitor-two', 'a2')].sort();
        // Both corrections written (the two partitions may be processed in either order) and final.
        return s.length === 2 && ids.join() === want.join() && s.every((x) => x.is_final === 1) && s;
      },
      { timeoutMs: 30_000, message: 'merged and moved sessions, final after idle' },
    );
    const merged = await sessions();
    expect(merged).toMatchObject([
      {
        session_id: id('visitor-one', 'a1'),
        events: 3,
        duration_s: 110,
        entry_path: '/a',
        start_reason: 'first_visit',
      },
      {
        session_id: id('visitor-two', 'a2'),
        events: 3,
        duration_s: 15,
        entry_path: '/a',
        start_reason: 'first_visit',
      },
    ]);
    expect(await eventSessions()).toEqual({
      a1: id('visitor-one', 'a1'),
      b1: id('visitor-one', 'a1'),
      c1: id('visitor-one', 'a1'),
      a2: id('visitor-two', 'a2'),
      b2: id('visitor-two', 'a2'),
      c2: id('visitor-two', 'a2'),
    });
    // The ghosts are tombstones in the raw table, hidden by the view.
    const raw = await queryRows<{ session_id: string; deleted: number }>(
      db.client,
      `SELECT session_id, max(deleted) AS deleted FROM ${db.database}.sessions_raw FINAL GROUP BY session_id
       ORDER BY session_id`,
    );
    expect(
      raw
        .filter((r) => Number(r.deleted) === 1)
        .map((r) => r.session_id)
        .sort(),
    ).toEqual([id('visitor-one', 'c1'), id('visitor-two', 'b2')].sort());

    // A restart replays from the commit point; a new event then extends visitor-one's session.
    await first.stop();
    // Each partition's commit carries the watermark input its replay starts from.
    const admin = kafka.admin();
    await admin.connect();
    const [offsets] = await admin.fetchOffsets({ groupId: `g-${topic}`, topics: [topic] });
    await admin.disconnect();
    const metas = (offsets?.partitions ?? [])
      .filter((p) => Number(p.offset) >= 0)
      .map((p) => JSON.parse(p.metadata ?? ''));
    expect(metas.length).toBeGreaterThan(0);
    // null while the replay must start at the partition's very first message.
    for (const m of metas) expect(m).toHaveProperty('maxTs');
    const second = start(`g-${topic}`);
    await second.start();
    await produce([ev('d1', T + 150 * S, { ...v1, path: '/d' })]);
    await waitFor(
      async () => {
        const s = await sessions();
        const one = s.find((x) => x.visitor_id === 'visitor-one');
        return s.length === 2 && one?.events === 4 && one.is_final === 1;
      },
      { timeoutMs: 30_000, message: 'visitor-one continued after restart' },
    );
    expect((await eventSessions()).d1).toBe(id('visitor-one', 'a1'));
  });

  it('under continuous traffic the commit follows the stream, and a restart replays without rewriting', async () => {
    // 300 visits of 5 page views over 2 minutes, one starting every 20 s, 50 visitors (each back every
    // 1,000 s): at every point of the log some visits are in progress.
    const stream = uniqueTopic('sessionizer_continuous');
    await ensureTopic(kafka, stream, 2);
    const events: KafkaEvent[] = [];
    for (let v = 0; v < 300; v++) {
      for (let k = 0; k < 5; k++) {
        const visitor = {
          site_id: 'int.example.com',
          hostname: 'int.example.com',
          visitor_id: `c-${v % 50}`,
        };
        events.push(ev(`c${v}-${k}`, T + v * 20 * S + k * 30 * S, { ...visitor, path: `/p${k}` }));
      }
    }
    events.sort((a, b) => a.ts - b.ts);
    await produce(events, stream);
    const group = `g-${stream}`;
    // No wall-clock finalization (an idle tick): whether one ran before the first instance stopped is a
    // race, and the comparison below is about what the replay writes, which only event time decides.
    const options = {
      topic: stream,
      latenessMs: 10_000,
      retentionMs: 60_000,
      retentionMessages: 0,
      idleMs: 3_600_000,
    };
    const count = async (table: string) =>
      Number(
        (
          await queryRows<{ n: string }>(
            db.client,
            `SELECT count() AS n FROM ${db.database}.${table} WHERE startsWith(visitor_id, 'c-')`,
          )
        )[0]?.n,
      );
    const first = start(group, options);
    await first.start();
    await waitFor(async () => (await count('events')) === events.length, {
      timeoutMs: 60_000,
      message: 'every event stored',
    });
    await first.stop();
    const admin = kafka.admin();
    await admin.connect();
    const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [stream] });
    const ends = await admin.fetchTopicOffsets(stream);
    await admin.disconnect();
    let toReplay = 0;
    for (const p of offsets?.partitions ?? []) {
      const end = Number(ends.find((e) => e.partition === p.partition)?.high);
      toReplay += end - Number(p.offset);
      const meta = JSON.parse(p.metadata ?? '{}') as { written?: number };
      // A restart needs only the last visits: well under a tenth of the partition.
      expect(end - Number(p.offset), `partition ${p.partition}`).toBeLessThan(end / 10);
      expect(meta.written).toBe(end);
    }
    expect(await count('sessions')).toBe(300);
    const rawEvents = await count('events_raw');
    const before = await queryRows<Record<string, unknown>>(
      db.client,
      `SELECT * FROM ${db.database}.sessions WHERE startsWith(visitor_id, 'c-') ORDER BY session_id`,
    );

    // The restarted instance rebuilds the open visits silently: no event row is written again.
    const second = start(group, options);
    await second.start();
    const replayed = async () => (await second.metrics.events.get()).values[0]?.value ?? 0;
    await waitFor(async () => (await replayed()) === toReplay, {
      timeoutMs: 30_000,
      message: `the replay of ${toReplay} messages`,
    });
    await second.flush();
    expect(await count('events_raw')).toBe(rawEvents);
    const after = await queryRows<Record<string, unknown>>(
      db.client,
      `SELECT * FROM ${db.database}.sessions WHERE startsWith(visitor_id, 'c-') ORDER BY session_id`,
    );
    const stable = (rows: Record<string, unknown>[]) =>
      rows.map(({ version: _v, updated_at: _u, ...r }) => r);
    expect(stable(after)).toEqual(stable(before));
  });
});

/**
 * The sink's TabSeparated inserts against the real ClickHouse: the column lists match the tables, and
 * any string reads back exactly as the same row written as JSONEachRow (the infra's `insertRows`) does.
 */
import { insertRows, queryRows } from '@stint/infra/clickhouse';
import { createTestDatabase, Random, type TestDatabase } from '@stint/infra/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseSink } from '../src/clickhouse-sink.ts';
import type { EventRow, SessionRow } from '../src/state/index.ts';
import { dateTime, eventRow } from '../src/state/rules.ts';
import { EVENT_COLUMNS, SESSION_COLUMNS } from '../src/tsv.ts';
import { ev, T0 } from './helpers.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('sessionizer_sink');
});
afterAll(async () => {
  await db?.drop();
});

const NASTY = [
  '',
  'plain',
  'back\\slash',
  'tab\there',
  'line\nfeed',
  'carriage\rreturn',
  'ends with CR\r',
  'crlf\r\n',
  '\\N',
  '\\t not a tab',
  'quotes \' " `',
  'nul \u0000 and bell \u0007 and del \u007f',
  'ünïcødé 日本語 🎉',
  '{"json":"props","n":1}',
  '\\\\\t\n\r\\',
];

function randomString(rng: Random): string {
  const alphabet = ['a', 'Z', '\\', '\t', '\n', '\r', '"', "'", ' ', 'é', '🎉', '\u0000', 'N', '0'];
  let s = '';
  const len = Math.floor(rng.next() * 12);
  for (let i = 0; i < len; i++) s += alphabet[Math.floor(rng.next() * alphabet.length)];
  return s;
}

async function describeTable(table: string): Promise<string[]> {
  // Without MATERIALIZED columns (ALIAS on a cluster's Distributed tables): ClickHouse computes them
  // and an insert does not name them.
  const rows = await queryRows<{ name: string; default_type: string }>(
    db.client,
    `DESCRIBE TABLE ${db.database}.${table}`,
  );
  return rows
    .filter((r) => r.default_type !== 'MATERIALIZED' && r.default_type !== 'ALIAS')
    .map((r) => r.name);
}

function sessionRow(id: string, text: string, version: number): SessionRow {
  return {
    site_id: 'example.com',
    session_id: id,
    visitor_id: text,
    started_at: dateTime(T0),
    ended_at: dateTime(T0 + 61_000),
    duration_s: 61,
    pageviews: 2,
    events: 3,
    engaged_ms: 2 ** 40,
    max_scroll_depth: 100,
    entry_path: text,
    exit_path: `/exit${text}`,
    page_paths: text === '' ? [] : [text, `/exit${text}`, `'${text}'`],
    page_path_views: text === '' ? [] : [1, 2 ** 31, 0],
    is_bounce: 0,
    is_engaged: 1,
    has_conversion: 1,
    source: text,
    medium: text,
    channel: 'direct',
    campaign: text,
    referrer_host: text,
    utm_source: text,
    utm_medium: text,
    utm_campaign: text,
    utm_content: text,
    utm_term: text,
    country: 'FR',
    region: text,
    device: 'desktop',
    browser: text,
    os: text,
    start_reason: 'first_visit',
    is_final: 1,
    deleted: 0,
    version,
    updated_at: dateTime(T0 + 120_000),
  };
}

describe('ClickHouse sink', () => {
  it('names the columns of events_raw and sessions_raw in the order of the tables', async () => {
    expect(await describeTable('events_raw')).toEqual([...EVENT_COLUMNS]);
    expect(await describeTable('sessions_raw')).toEqual([...SESSION_COLUMNS]);
  });

  it('writes any string so that it reads back as the same row written as JSONEachRow', async () => {
    const rng = new Random(7);
    const texts = [...NASTY, ...Array.from({ length: 200 }, () => randomString(rng))];
    const rows = (prefix: string) => ({
      events: texts.map((t, i) =>
        eventRow(
          ev(`${prefix}-e${i}`, T0 + i * 1000, {
            url: `https://example.com/${t}`,
            path: t,
            referrer: t,
            name: t || 'pageview',
            utm_term: t,
            region: t,
            engaged_ms: i * 997,
            scroll_depth: i % 101,
            props: t ? { [t]: t } : {},
          }),
          `${prefix}-s${i}`,
          2 * (i + 1) + 2 ** 40,
        ),
      ),
      sessions: texts.map((t, i) => sessionRow(`${prefix}-s${i}`, t, 2 * (i + 1))),
    });
    const sink = new ClickHouseSink(db.client, db.database);
    const viaTsv = rows('tsv');
    sink.add(viaTsv);
    await sink.flush();
    const viaJson = rows('json');
    await insertRows(db.client, `${db.database}.events_raw`, viaJson.events as never[]);
    await insertRows(db.client, `${db.database}.sessions_raw`, viaJson.sessions as never[]);

    const read = async (table: string, key: string, prefix: string) => {
      const got = await queryRows<Record<string, unknown>>(
        db.client,
        `SELECT * FROM ${db.database}.${table} WHERE ${key} LIKE '${prefix}-%' ORDER BY ${key}`,
      );
      return got.map((r) => ({
        ...r,
        [key]: String(r[key]).slice(prefix.length),
        session_id: String(r.session_id).slice(prefix.length),
      }));
    };
    const tsvEvents = await read('events_raw', 'event_id', 'tsv');
    expect(tsvEvents).toHaveLength(texts.length);
    expect(tsvEvents).toEqual(await read('events_raw', 'event_id', 'json'));
    const tsvSessions = await read('sessions_raw', 'session_id', 'tsv');
    expect(tsvSessions).toHaveLength(texts.length);
    expect(tsvSessions).toEqual(await read('sessions_raw', 'session_id', 'json'));
    // And both are the strings that went in.
    const byId = new Map(viaTsv.events.map((e: EventRow) => [e.event_id.slice(3), e]));
    for (const r of tsvEvents) {
      const want = byId.get(String(r.event_id)) as EventRow;
      expect([r.path, r.referrer, r.props, r.url]).toEqual([want.path, want.referrer, want.props, want.url]);
    }
  });
});

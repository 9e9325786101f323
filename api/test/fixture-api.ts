/**
 * The fixture's sessions written to a fresh database, with an api over them: for the tests that read
 * reports back and compare them with the independent computation in `fixture.ts`.
 */
import { exec, insertRows } from '@stint/infra/clickhouse';
import { addSite, createToken } from '@stint/infra/registry';
import { createTestDatabase, type TestDatabase } from '@stint/infra/testing';
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import { type ApiDeps, buildApi } from '../src/app.ts';
import { FROM, type FxSession, NOW, rawRows, SITE_A, TO, TZ_A } from './fixture.ts';

export interface FixtureApi {
  db: TestDatabase;
  app: FastifyInstance;
  /** GET a report of site A with a read token; expects a 200 and returns the body. */
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON whose values the tests check one by one
  get(path: string): Promise<Record<string, any>>;
  close(): Promise<void>;
}

export async function fixtureApi(
  label: string,
  sessions: readonly FxSession[],
  options: {
    reportCache: ApiDeps['reportCache'];
    /** Insert each table in two parts, then OPTIMIZE … FINAL: every month becomes one merged part. */
    merged?: boolean;
    /** The migrations' mode (see createTestDatabase): '' for single-node on a cluster's server. */
    cluster?: string;
  },
): Promise<FixtureApi> {
  const db = await createTestDatabase(
    label,
    options.cluster === undefined ? {} : { cluster: options.cluster },
  );
  await addSite(db.client, db.database, { site_id: SITE_A, timezone: TZ_A });
  const token = (await createToken(db.client, db.database, { site: SITE_A, scope: 'read' })).secret;
  const rows = rawRows(sessions);
  for (const [table, all] of [
    ['sessions_raw', rows.sessions],
    ['events_raw', rows.events],
  ] as const) {
    // Two inserts per table, so that OPTIMIZE really merges (and drops the stale versions).
    const parts = options.merged ? [all.slice(0, all.length >> 1), all.slice(all.length >> 1)] : [all];
    for (const part of parts) await insertRows(db.client, `${db.database}.${table}`, part);
    if (options.merged) await exec(db.client, `OPTIMIZE TABLE ${db.database}.${table} FINAL`);
  }
  const app = await buildApi({
    client: db.client,
    database: db.database,
    clickhouseCluster: db.cluster,
    now: () => NOW,
    staticRoot: null,
    reportCache: options.reportCache,
  });
  return {
    db,
    app,
    async get(path) {
      const res = await app.inject({
        method: 'GET',
        url: `/api/v1/sites/${SITE_A}/${path}`,
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.statusCode).toBe(200);
      return res.json();
    },
    async close() {
      await app.close();
      await db.drop();
    },
  };
}

export function expectClose(got: Record<string, number>, want: Record<string, number>, label: string) {
  for (const [k, v] of Object.entries(want)) expect(got[k], `${label}: ${k}`).toBeCloseTo(v, 9);
}

/** A session of site A that starts on the range's second day and has page views: one to correct late. */
export function lateCorrectionVictim(sessions: readonly FxSession[]): FxSession {
  const victim = sessions.find(
    (s) =>
      s.site === SITE_A &&
      (s.events[0]?.ts ?? 0) >= FROM + 86_400_000 &&
      (s.events[0]?.ts ?? 0) < TO &&
      s.events.some((e) => e.name === 'pageview'),
  );
  if (!victim) throw new Error('the fixture has no session to correct late');
  return victim;
}

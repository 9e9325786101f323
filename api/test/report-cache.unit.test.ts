/**
 * The report cache's rules without a server: a result is reused only under the fingerprint it was
 * computed under, never stored when the data changed while the query ran, and only queries that name
 * nothing but the known data tables are cached.
 */
import { raw } from '@stint/infra/clickhouse';
import { describe, expect, it } from 'vitest';
import { cachedRunner, tablesOf } from '../src/report-cache.ts';
import type { Row } from '../src/reports.ts';

const DB = 'stint_x';
const Q1 = raw('SELECT count() AS c FROM `stint_x`.sessions_raw FINAL');
const Q2 = raw('SELECT 2 AS c FROM `stint_x`.events_raw AS e JOIN `stint_x`.visitor_first_seen USING x');

function harness() {
  let version = 0;
  let calls = 0;
  const seen: string[][] = [];
  const onRun: { during?: () => void } = {};
  const c = cachedRunner(
    async (q) => {
      calls++;
      onRun.during?.();
      return [{ q: String(q), version }] as Row[];
    },
    DB,
    async (tables) => {
      seen.push([...tables]);
      return `v${version}`;
    },
    { maxEntries: 2 },
  );
  return {
    c,
    calls: () => calls,
    seen,
    onRun,
    bump: () => {
      version++;
    },
  };
}

describe('report cache', () => {
  it('reuses a result while the fingerprint of the tables it read is unchanged', async () => {
    const h = harness();
    const a = await h.c.run(Q1);
    const b = await h.c.run(Q1);
    expect(b).toEqual(a);
    expect(h.calls()).toBe(1);
    expect(h.c.stats).toMatchObject({ hits: 1, misses: 1 });
    expect(h.seen[0]).toEqual(['sessions_raw']);
  });

  it('recomputes after the data changed (a late correction is a new part)', async () => {
    const h = harness();
    await h.c.run(Q1);
    h.bump();
    const rows = await h.c.run(Q1);
    expect(rows[0]?.version).toBe(1);
    expect(h.calls()).toBe(2);
    await h.c.run(Q1);
    expect(h.calls()).toBe(2);
  });

  it('does not keep a result when the data changed while the query ran', async () => {
    const h = harness();
    h.onRun.during = () => h.bump();
    await h.c.run(Q1);
    h.onRun.during = undefined;
    await h.c.run(Q1);
    expect(h.calls()).toBe(2);
    expect(h.c.stats.raced).toBe(1);
  });

  it('hands out copies, so a caller changing its rows does not change the cache', async () => {
    const h = harness();
    const first = await h.c.run(Q1);
    (first[0] as Row).version = 42;
    expect((await h.c.run(Q1))[0]?.version).toBe(0);
  });

  it('keeps at most maxEntries results, dropping the least recently used', async () => {
    const h = harness();
    const q3 = raw('SELECT 3 FROM `stint_x`.visitor_sessions');
    await h.c.run(Q1);
    await h.c.run(Q2);
    await h.c.run(Q1); // Q1 is now the most recent
    await h.c.run(q3); // drops Q2
    expect(h.c.size()).toBe(2);
    const before = h.calls();
    await h.c.run(Q1);
    expect(h.calls()).toBe(before);
    await h.c.run(Q2);
    expect(h.calls()).toBe(before + 1);
  });

  it('never caches a query naming a table it cannot fingerprint', async () => {
    const h = harness();
    for (const q of [
      'SELECT * FROM `stint_x`.sites FINAL',
      'SELECT * FROM `stint_x`.sessions_raw JOIN `other`.sessions_raw USING session_id',
      'SELECT * FROM `stint_x`.sessions_raw WHERE 1 IN (SELECT 1 FROM system.parts)',
      'SELECT 1',
    ]) {
      await h.c.run(raw(q));
      await h.c.run(raw(q));
    }
    expect(h.calls()).toBe(8);
    expect(h.c.stats.bypassed).toBe(8);
  });

  it('finds every data table a report query names', () => {
    expect(tablesOf(String(Q2), DB)).toEqual(['events_raw', 'visitor_first_seen']);
    expect(tablesOf('SELECT 1 FROM `stint_x`.sessions_raw_v2', DB)).toBeNull();
  });
});

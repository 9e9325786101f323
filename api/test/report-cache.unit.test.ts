/**
 * runReport's rules without a server: a result is reused only under the fingerprint it was computed
 * under, nothing is kept when the data changed while the report ran (and a report that skipped FINAL
 * runs again with FINAL), and only queries naming nothing but the data tables are cached.
 */
import { raw } from '@stint/infra/clickhouse';
import { describe, expect, it } from 'vitest';
import { listingOf, type PartRow } from '../src/partitions.ts';
import { type CleanPartitions, eventsIn, sessionsIn } from '../src/queries/common.ts';
import { lastMonthBefore, ReportCache, runReport, tablesOf } from '../src/report-cache.ts';
import type { Row, Runner } from '../src/reports.ts';

const DB = 'stint_x';
const Q1 = raw('SELECT count() AS c FROM `stint_x`.sessions_raw FINAL');
const Q2 = raw('SELECT 2 AS c FROM `stint_x`.events_raw AS e JOIN `stint_x`.visitor_first_seen USING x');

function harness(opts: { merged?: boolean; maxEntries?: number; cache?: boolean } = {}) {
  let block = 1;
  let parts: PartRow[] = [
    { table: 'sessions_raw', partition: '202401', name: '202401_1_1_1', level: opts.merged ? 1 : 0 },
  ];
  const state = { executed: 0, lists: 0, during: undefined as undefined | (() => void) };
  const direct: Runner = async (q) => {
    state.executed++;
    state.during?.();
    return [{ q: String(q), block }] as Row[];
  };
  const cache = opts.cache === false ? null : new ReportCache({ maxEntries: opts.maxEntries ?? 10 });
  const o = {
    database: DB,
    direct,
    list: async () => {
      state.lists++;
      return listingOf(parts);
    },
    cache,
    skipFinal: true,
  };
  return {
    state,
    cache,
    /** A new part in the sessions' month (a late correction). */
    write: () => {
      block++;
      parts = [
        ...parts,
        { table: 'sessions_raw', partition: '202401', name: `202401_${block}_${block}_0`, level: 0 },
      ];
    },
    report: (queries: readonly ReturnType<typeof raw>[]) => {
      const cleans: (CleanPartitions | undefined)[] = [];
      return runReport(o, async (run, clean) => {
        cleans.push(clean);
        const rows = [];
        for (const q of queries) rows.push(...(await run(q)));
        return { rows, cleans };
      });
    },
  };
}

describe('report cache and clean months', () => {
  it('reuses a result while the fingerprint of the tables it read is unchanged', async () => {
    const h = harness();
    const a = await h.report([Q1, Q2]);
    const lists = h.state.lists;
    const b = await h.report([Q1, Q2]);
    expect(b.rows).toEqual(a.rows);
    expect(h.state.executed).toBe(2);
    expect(h.state.lists).toBe(lists + 1); // all hits: no second listing
    expect(h.cache?.stats).toMatchObject({ hits: 2, misses: 2 });
  });

  it('recomputes what read the table a late correction was written to, and only that', async () => {
    const h = harness();
    await h.report([Q1, Q2]);
    h.write();
    const r = await h.report([Q1, Q2]);
    expect(r.rows[0]?.block).toBe(2);
    expect(h.state.executed).toBe(3); // Q2 does not read sessions_raw
  });

  it('keeps nothing when the data changed while the report ran', async () => {
    const h = harness();
    h.state.during = () => {
      h.state.during = undefined;
      h.write();
    };
    await h.report([Q1]);
    expect(h.cache?.size).toBe(0);
    expect(h.cache?.stats.raced).toBe(1);
    await h.report([Q1]);
    expect(h.state.executed).toBe(2);
    expect(h.cache?.size).toBe(1);
  });

  it('runs a report that skipped FINAL again with FINAL everywhere when a part came meanwhile', async () => {
    for (const cache of [true, false]) {
      const h = harness({ merged: true, cache });
      h.state.during = () => {
        h.state.during = undefined;
        h.write();
      };
      const r = await h.report([Q1]);
      expect(r.cleans).toEqual([{ sessions: ['202401_1_1_1'], events: [] }, undefined]);
    }
  });

  it('runs a report that read the merged first-seen rollup ungrouped again grouped when a rollup part came meanwhile', async () => {
    const rollup = (name: string, level: number): PartRow => ({
      table: 'visitor_first_seen',
      partition: 'tuple()',
      name,
      level,
    });
    let parts: PartRow[] = [rollup('all_1_4_1', 1)];
    const cleans: (CleanPartitions | undefined)[] = [];
    const o = {
      database: DB,
      direct: async (q: ReturnType<typeof raw>) => {
        parts = [rollup('all_1_4_1', 1), rollup('all_5_5_0', 0)]; // a flush while the query runs
        return [{ q: String(q) }];
      },
      list: async () => listingOf(parts),
      cache: null,
      skipFinal: true,
    };
    await runReport(o, async (run, clean) => {
      cleans.push(clean);
      return run(Q2);
    });
    expect(cleans).toEqual([{ sessions: [], events: [], firstSeen: 'all_1_4_1' }, undefined]);
  });

  it('runs a report that raced with a merge again on the new listing, and with FINAL only when it races twice', async () => {
    for (const merges of [1, 2]) {
      let parts: PartRow[] = [{ table: 'sessions_raw', partition: '202401', name: '202401_1_1_1', level: 1 }];
      let left = merges;
      const cleans: (CleanPartitions | undefined)[] = [];
      const o = {
        database: DB,
        direct: async (q: ReturnType<typeof raw>) => {
          if (left > 0) {
            left--; // a merge while the query runs: the month is one merged part again, under a new name
            const level = parts[0]?.level ?? 1;
            parts = [
              {
                table: 'sessions_raw',
                partition: '202401',
                name: `202401_1_1_${level + 1}`,
                level: level + 1,
              },
            ];
          }
          return [{ q: String(q) }];
        },
        list: async () => listingOf(parts),
        cache: new ReportCache(),
        skipFinal: true,
      };
      await runReport(o, async (run, clean) => {
        cleans.push(clean);
        return run(Q1);
      });
      expect(cleans).toEqual(
        merges === 1
          ? [
              { sessions: ['202401_1_1_1'], events: [] },
              { sessions: ['202401_1_1_2'], events: [] },
            ]
          : [
              { sessions: ['202401_1_1_1'], events: [] },
              { sessions: ['202401_1_1_2'], events: [] },
              undefined,
            ],
      );
    }
  });

  it('keeps a result when only a table it did not read changed while it ran', async () => {
    const h = harness();
    h.state.during = () => {
      h.state.during = undefined;
      h.write(); // a new sessions_raw part; Q3 reads only the rollup tables
    };
    const q3 = raw('SELECT 3 FROM `stint_x`.visitor_sessions');
    await h.report([q3]);
    expect([h.cache?.size, h.cache?.stats.raced]).toEqual([1, 0]);
  });

  it('keeps a result that skipped FINAL when nothing changed', async () => {
    const h = harness({ merged: true, cache: false });
    const r = await h.report([Q1]);
    expect(r.cleans).toEqual([{ sessions: ['202401_1_1_1'], events: [] }]);
    expect(h.state.lists).toBe(2);
  });

  it('keeps at most maxTotalRows rows in all, dropping the least recently used results', () => {
    const c = new ReportCache({ maxTotalRows: 5 });
    const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ i }));
    c.set('a', 'f', rows(2));
    c.set('b', 'f', rows(2));
    c.set('a', 'f', rows(2)); // replacing counts once
    c.set('c', 'f', rows(3)); // 7 > 5: the oldest (b) goes
    expect([c.get('a', 'f')?.length, c.get('b', 'f'), c.get('c', 'f')?.length]).toEqual([2, undefined, 3]);
    c.set('d', 'f', rows(6)); // more than all: not kept, nothing dropped for it
    expect([c.size, c.get('d', 'f')]).toEqual([2, undefined]);
  });

  it('hands out copies, so a caller changing its rows does not change the cache', async () => {
    const h = harness();
    const first = await h.report([Q1]);
    (first.rows[0] as Row).block = 42;
    expect((await h.report([Q1])).rows[0]?.block).toBe(1);
  });

  it('keeps at most maxEntries results, dropping the least recently used', async () => {
    const h = harness({ maxEntries: 2 });
    const q3 = raw('SELECT 3 FROM `stint_x`.visitor_sessions');
    for (const q of [Q1, Q2, Q1, q3]) await h.report([q]); // Q2 is dropped
    expect(h.cache?.size).toBe(2);
    const before = h.state.executed;
    await h.report([Q1]);
    expect(h.state.executed).toBe(before);
    await h.report([Q2]);
    expect(h.state.executed).toBe(before + 1);
  });

  it('never caches a query naming a table it cannot fingerprint', async () => {
    const h = harness();
    const qs = [
      'SELECT * FROM `stint_x`.sites FINAL',
      'SELECT * FROM `stint_x`.sessions_raw JOIN `other`.sessions_raw USING session_id',
      'SELECT * FROM `stint_x`.sessions_raw WHERE 1 IN (SELECT 1 FROM system.parts)',
      'SELECT 1',
    ].map((q) => raw(q));
    await h.report(qs);
    await h.report(qs);
    expect(h.state.executed).toBe(8);
    expect(h.cache?.stats.bypassed).toBe(8);
  });

  it('finds every data table a report query names', () => {
    expect(tablesOf(String(Q2), DB)).toEqual(['events_raw', 'visitor_first_seen']);
    expect(tablesOf('SELECT 1 FROM `stint_x`.sessions_raw_v2', DB)).toBeNull();
  });
});

describe('reports over a range ending before a month', () => {
  const Q3 = raw('SELECT 3 FROM `stint_x`.sessions_raw JOIN `stint_x`.visitor_first_seen USING x');
  /** The server's clock at every listing: the parts below were written long before, unless told. */
  const NOW_S = 1_000_000;
  const part = (table: string, partition: string, name: string, mtime = 0): PartRow => ({
    table,
    partition,
    name,
    level: 0,
    mtime,
  });

  /** A report whose sessions all started before `readsBefore`, over a listing that can be changed. */
  function bounded(initial: PartRow[]) {
    let parts = initial;
    let executed = 0;
    const o = {
      database: DB,
      direct: async (q: ReturnType<typeof raw>) => {
        executed++;
        return [{ q: String(q), executed }];
      },
      list: async () => listingOf(parts, NOW_S),
      cache: new ReportCache(),
      skipFinal: false,
    };
    return {
      add: (p: PartRow) => {
        parts = [...parts, p];
      },
      executed: () => executed,
      run: (q: ReturnType<typeof raw>, readsBefore?: Date) => runReport(o, (run) => run(q), readsBefore),
    };
  }
  const january = [
    part('sessions_raw', '202401', '202401_1_1_0'),
    part('visitor_first_seen', 'tuple()', 'all_1_1_0'),
  ];
  const endOfJanuary = new Date('2024-01-31T12:00:00Z');

  it('stays cached while only later months and the rollups are written', async () => {
    const b = bounded(january);
    await b.run(Q3, endOfJanuary);
    b.add(part('sessions_raw', '202403', '202403_2_2_0'));
    b.add(part('visitor_first_seen', 'tuple()', 'all_3_3_0'));
    b.add(part('visitor_tombstones', 'tuple()', 'all_4_4_0'));
    await b.run(Q3, endOfJanuary);
    expect(b.executed()).toBe(1);
  });

  it('keys a result by the rollups too while a month it covers took a write in the last minute (the rollups may lag behind)', async () => {
    // A session part just written to January: its materialized views may not have written the
    // rollups yet. A result computed now must miss once the rollup part lands.
    const b = bounded([...january, part('sessions_raw', '202401', '202401_2_2_0', NOW_S - 5)]);
    await b.run(Q3, endOfJanuary);
    b.add(part('visitor_first_seen', 'tuple()', 'all_3_3_0', NOW_S - 1));
    await b.run(Q3, endOfJanuary);
    expect(b.executed()).toBe(2);
    // A month after the bound written just now does not matter.
    const c = bounded([...january, part('sessions_raw', '202403', '202403_2_2_0', NOW_S)]);
    await c.run(Q3, endOfJanuary);
    c.add(part('visitor_first_seen', 'tuple()', 'all_3_3_0', NOW_S));
    await c.run(Q3, endOfJanuary);
    expect(c.executed()).toBe(1);
  });

  it('misses after a write to a month it covers, or to any month without a bound', async () => {
    const b = bounded(january);
    await b.run(Q3, endOfJanuary);
    b.add(part('sessions_raw', '202401', '202401_2_2_0'));
    await b.run(Q3, endOfJanuary);
    expect(b.executed()).toBe(2);
    await b.run(Q3); // unbounded: its own entry, computed now
    b.add(part('sessions_raw', '202403', '202403_3_3_0'));
    await b.run(Q3);
    expect(b.executed()).toBe(4);
  });

  it('counts the month after the bound as covered near a month end (server time zones run up to 14 h ahead)', async () => {
    const b = bounded(january);
    await b.run(Q3, endOfJanuary);
    b.add(part('sessions_raw', '202402', '202402_2_2_0'));
    await b.run(Q3, endOfJanuary);
    expect(b.executed()).toBe(2);
    expect(lastMonthBefore(new Date('2024-01-30T00:00:00Z'))).toBe('202401');
    expect(lastMonthBefore(new Date('2024-01-31T10:00:00Z'))).toBe('202402');
    expect(lastMonthBefore(new Date('2024-12-31T23:00:00Z'))).toBe('202501');
  });

  it('fingerprints a query reading events over every month, events being later than their sessions', async () => {
    const b = bounded([...january, part('events_raw', '202401', '202401_1_1_0')]);
    await b.run(Q2, endOfJanuary);
    b.add(part('events_raw', '202403', '202403_2_2_0'));
    await b.run(Q2, endOfJanuary);
    expect(b.executed()).toBe(2);
  });
});

describe('clean parts named by a query', () => {
  const clean = {
    sessions: ['202401_1_9_2', '202402_10_19_2', '202403_20_29_2', '202405_30_39_2'],
    events: ['202401_1_9_2', '202405_30_39_2'],
  };
  const p = { database: DB, site: 'a.example', clean };
  const named = (text: string) => [...text.matchAll(/'(\d{6}_[\d_]+)'/g)].map((m) => m[1]);

  it('names only the parts of the months its range can reach, so other months do not change its text', () => {
    const feb10 = new Date('2024-02-10T00:00:00Z');
    const mar5 = new Date('2024-03-05T00:00:00Z');
    // Each list appears twice: IN for the clean parts, NOT IN for the FINAL branch.
    expect(named(String(sessionsIn(p, feb10, mar5, ['visitor_key'])))).toEqual([
      ...['202402_10_19_2', '202403_20_29_2'],
      ...['202402_10_19_2', '202403_20_29_2'],
    ]);
    expect(String(sessionsIn(p, null, mar5, ['visitor_key']))).toContain('202401_1_9_2');
    // Near a month's edge the neighbouring month counts too (the server's time zone may differ).
    expect(
      named(String(eventsIn(p, new Date('2024-04-30T20:00:00Z'), new Date('2024-05-01T00:00:00Z'), []))),
    ).toEqual(['202405_30_39_2', '202405_30_39_2']);
    // No clean part in reach: everything is read with FINAL.
    expect(String(eventsIn(p, feb10, mar5, []))).not.toContain('_part');
  });
});

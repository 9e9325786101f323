/** The fuzz run's counts: requests by class, answers by status, as a table and as JSON for the README. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { FuzzCase } from './fuzz-cases.ts';
import type { FuzzResponse } from './fuzz-http.ts';

export interface FuzzOutcome {
  c: FuzzCase;
  res: FuzzResponse;
  /** Why the answer is wrong, or null. */
  problem: string | null;
}

export interface FuzzCounts {
  seed: number;
  date: string;
  duration_s: number;
  requests: number;
  unexpected: number;
  /** Candidates the oracle found valid and left out of the bad set. */
  discarded_as_valid: number;
  /** Requests whose first connection closed without an answer and that were sent once more. */
  retried_after_hangup: number;
  by_status: Record<string, number>;
  by_class: {
    class: string;
    expect: string;
    requests: number;
    statuses: Record<string, number>;
    unexpected: number;
    ms_p50: number;
    ms_max: number;
  }[];
}

export function statusKey(res: FuzzResponse): string {
  return res.status === 0 ? `closed (${res.failure ?? '?'})` : String(res.status);
}

export function countOutcomes(
  outcomes: FuzzOutcome[],
  meta: { seed: number; durationMs: number; discarded: number },
): FuzzCounts {
  const byStatus: Record<string, number> = {};
  const classes = new Map<string, FuzzCounts['by_class'][number]>();
  const times = new Map<string, number[]>();
  for (const { c, res, problem } of outcomes) {
    const key = statusKey(res);
    byStatus[key] = (byStatus[key] ?? 0) + 1;
    let row = classes.get(c.cls);
    if (!row) {
      row = {
        class: c.cls,
        expect: c.expect,
        requests: 0,
        statuses: {},
        unexpected: 0,
        ms_p50: 0,
        ms_max: 0,
      };
      classes.set(c.cls, row);
    }
    row.requests++;
    row.statuses[key] = (row.statuses[key] ?? 0) + 1;
    if (problem) row.unexpected++;
    times.set(c.cls, [...(times.get(c.cls) ?? []), res.ms]);
  }
  for (const [cls, ms] of times) {
    const row = classes.get(cls);
    if (!row) continue;
    ms.sort((a, b) => a - b);
    row.ms_p50 = Math.round(ms[Math.floor(ms.length / 2)] ?? 0);
    row.ms_max = Math.round(ms[ms.length - 1] ?? 0);
  }
  const sortKeys = (r: Record<string, number>) =>
    Object.fromEntries(Object.entries(r).sort(([a], [b]) => a.localeCompare(b)));
  return {
    seed: meta.seed,
    date: new Date().toISOString(),
    duration_s: Math.round(meta.durationMs / 100) / 10,
    requests: outcomes.length,
    unexpected: outcomes.filter((o) => o.problem).length,
    discarded_as_valid: meta.discarded,
    retried_after_hangup: outcomes.filter((o) => o.res.retried).length,
    by_status: sortKeys(byStatus),
    by_class: [...classes.values()]
      .sort((a, b) => a.class.localeCompare(b.class))
      .map((r) => ({ ...r, statuses: sortKeys(r.statuses) })),
  };
}

const EXPECT_TEXT: Record<string, string> = {
  reject: '4xx',
  dropped: '2xx, 0 accepted',
  ok: '200, no B data',
};

/** A Markdown table (the README's format). */
export function countsTable(counts: FuzzCounts): string {
  const statuses = Object.keys(counts.by_status);
  const lines = [
    `| request class | expected | requests | ${statuses.join(' | ')} | unexpected |`,
    `|---|---|---:|${statuses.map(() => '---:|').join('')}---:|`,
  ];
  for (const r of counts.by_class) {
    lines.push(
      `| ${r.class} | ${EXPECT_TEXT[r.expect] ?? r.expect} | ${r.requests} | ${statuses.map((s) => r.statuses[s] ?? '').join(' | ')} | ${r.unexpected} |`,
    );
  }
  lines.push(
    `| **total** | | **${counts.requests}** | ${statuses.map((s) => `**${counts.by_status[s]}**`).join(' | ')} | **${counts.unexpected}** |`,
  );
  return lines.join('\n');
}

export function writeCounts(file: string, counts: FuzzCounts): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ ...counts, table_markdown: countsTable(counts) }, null, 2)}\n`);
}

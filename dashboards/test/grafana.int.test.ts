/**
 * Every SQL of the Grafana dashboards (panels and variables), expanded the way Grafana and the
 * ClickHouse plugin expand it, runs on the real ClickHouse server (18.16 in CI) and on chdb (current
 * ClickHouse) over the fixture, and returns rows. A few panels are also checked against numbers
 * counted straight from the fixture.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD_DIR, DASHBOARDS, DATASOURCE } from '../grafana/generate.ts';
import { NOW, OTHER_SITE, SITE, sessionsIn, totals } from './fixture.ts';
import { expandPanelSql, type GrafanaContext } from './grafana-macros.ts';
import { chdbTarget, rename, type SqlTarget, serverTarget } from './sql-targets.ts';

interface Panel {
  title: string;
  type: string;
  datasource?: { type: string; uid: string };
  targets?: { rawSql: string; format: number; queryType: string }[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; query: string; datasource: { type: string } }[] };
}

const files = readdirSync(DASHBOARD_DIR).filter((f) => f.endsWith('.json'));
const dashboards = files.map((f) => JSON.parse(readFileSync(join(DASHBOARD_DIR, f), 'utf8')) as Dashboard);
const panels = dashboards.flatMap((d) =>
  d.panels.flatMap((p) => [p, ...(p.panels ?? [])]).map((p) => ({ dashboard: d.title, panel: p })),
);

// The last 30 days up to the fixture's "now", in 1-day buckets (what Grafana picks for a 30-day range
// on a wide panel is close to this; any interval works).
const ctx: GrafanaContext = {
  from: NOW - 30 * 86_400_000,
  to: NOW,
  intervalS: 86_400,
  variables: { site: SITE },
};

let server: SqlTarget;
let modern: SqlTarget;

beforeAll(async () => {
  server = await serverTarget('grafana');
  modern = chdbTarget('stint_grafana_modern');
});
afterAll(async () => {
  await server?.close();
  await modern?.close();
});

describe('Grafana dashboards', () => {
  it('has the five dashboards, in sync with their generator, every panel on the ClickHouse plugin', () => {
    expect(dashboards.map((d) => d.uid).sort()).toEqual([
      'stint-acquisition',
      'stint-duration',
      'stint-engagement',
      'stint-frequency',
      'stint-overview',
    ]);
    for (const d of dashboards) expect(d).toEqual(DASHBOARDS[d.uid]);
    for (const { panel } of panels) {
      expect(panel.datasource).toEqual(DATASOURCE);
      expect(panel.targets?.length).toBe(1);
    }
    expect(panels.length).toBeGreaterThanOrEqual(40);
  });

  it('runs every panel query, macros and variables expanded, on the ClickHouse server and on chdb', async () => {
    for (const target of [server, modern]) {
      for (const { dashboard, panel } of panels) {
        for (const t of panel.targets ?? []) {
          const sql = rename(expandPanelSql(t.rawSql, ctx), target.database);
          const rows = await target.run(sql).catch((err: Error) => {
            throw new Error(`${target.name}: "${dashboard} / ${panel.title}" failed: ${err.message}\n${sql}`);
          });
          expect(
            rows.length,
            `${target.name}: "${dashboard} / ${panel.title}" returned no rows`,
          ).toBeGreaterThan(0);
          if (t.queryType === 'timeseries') expect(Object.keys(rows[0] ?? {})).toContain('time');
        }
      }
    }
  });

  it('lists the sites in the site variable', async () => {
    for (const d of dashboards) {
      const variable = d.templating.list.find((v) => v.name === 'site');
      expect(variable?.datasource.type).toBe('grafana-clickhouse-datasource');
      const rows = await server.run(rename(variable?.query ?? '', server.database));
      expect(rows.map((r) => r.site_id)).toEqual([SITE, OTHER_SITE].sort());
    }
  });

  it('shows the fixture numbers in the overview stats and only the chosen site', async () => {
    const overview = dashboards.find((d) => d.uid === 'stint-overview') as Dashboard;
    const value = async (title: string, variables = ctx.variables) => {
      const p = overview.panels.find((x) => x.title === title);
      const sql = rename(
        expandPanelSql(p?.targets?.[0]?.rawSql ?? '', { ...ctx, variables }),
        server.database,
      );
      return Number((await server.run(sql))[0]?.value);
    };
    // $__timeFilter includes both ends of the range.
    const expected = totals(sessionsIn(ctx.from, ctx.to + 1));
    expect(await value('Sessions')).toBe(expected.sessions);
    expect(await value('Visitors')).toBe(expected.visitors);
    expect(await value('Pageviews')).toBe(expected.pageviews);
    expect(await value('Sessions', { site: OTHER_SITE })).toBe(10);
    // A hostile variable value stays inside its string literal.
    expect(await value('Sessions', { site: "x' OR 1 = 1 OR site_id = '" })).toBe(0);
  });
});

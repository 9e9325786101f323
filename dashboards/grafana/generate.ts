/**
 * Writes the Grafana dashboards (grafana/dashboards/*.json) for the official ClickHouse data source
 * plugin over the analyst views. The JSON files are what Grafana provisions; this script is only the
 * shorter way to write them (a test checks they are in sync).
 *
 *   npx tsx dashboards/grafana/generate.ts
 *
 * Every panel's SQL runs on ClickHouse 18.16 and on current ClickHouse, which rules out the plugin's
 * `$__timeInterval` (it expands to toStartOfInterval): buckets use `$__interval_s` arithmetic instead.
 */
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const DATASOURCE = { type: 'grafana-clickhouse-datasource', uid: 'stint-clickhouse' } as const;
const here = dirname(fileURLToPath(import.meta.url));
export const DASHBOARD_DIR = join(here, 'dashboards');

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template
const SITE = 'site_id = ${site:singlequote}';
const IN_RANGE = `${SITE} AND $__timeFilter(started_at)`;
const BUCKET = 'toDateTime(intDiv(toUInt32(started_at), $__interval_s) * $__interval_s) AS time';

type Kind = 'stat' | 'timeseries' | 'table' | 'barchart' | 'piechart';
interface PanelSpec {
  title: string;
  kind: Kind;
  sql: string;
  w: number;
  h: number;
  unit?: string;
  description?: string;
}

function panel(p: PanelSpec, id: number, x: number, y: number): Record<string, unknown> {
  const timeseries = p.kind === 'timeseries';
  const base: Record<string, unknown> = {
    id,
    type: p.kind,
    title: p.title,
    ...(p.description ? { description: p.description } : {}),
    datasource: DATASOURCE,
    gridPos: { h: p.h, w: p.w, x, y },
    fieldConfig: { defaults: { ...(p.unit ? { unit: p.unit } : {}) }, overrides: [] },
    targets: [
      {
        refId: 'A',
        datasource: DATASOURCE,
        editorType: 'sql',
        queryType: timeseries ? 'timeseries' : 'table',
        format: timeseries ? 0 : 1,
        rawSql: p.sql.trim().replace(/\n\s*/g, '\n'),
      },
    ],
  };
  switch (p.kind) {
    case 'stat':
      return {
        ...base,
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          colorMode: 'value',
          graphMode: 'none',
          textMode: 'value',
        },
      };
    case 'timeseries':
      return {
        ...base,
        options: {
          legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
          tooltip: { mode: 'multi', sort: 'none' },
        },
      };
    case 'barchart':
      return {
        ...base,
        options: {
          orientation: 'vertical',
          showValue: 'auto',
          legend: { showLegend: false, displayMode: 'list', placement: 'bottom' },
          xTickLabelRotation: 0,
        },
      };
    case 'piechart':
      return {
        ...base,
        options: {
          pieType: 'donut',
          legend: {
            displayMode: 'table',
            placement: 'right',
            values: ['value', 'percent'],
            showLegend: true,
          },
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: true },
        },
      };
    case 'table':
      return { ...base, options: { showHeader: true, cellHeight: 'sm' } };
  }
}

function dashboard(
  uid: string,
  title: string,
  description: string,
  rows: PanelSpec[][],
): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let y = 0;
  let id = 1;
  for (const row of rows) {
    let x = 0;
    for (const p of row) {
      panels.push(panel(p, id++, x, y));
      x += p.w;
    }
    y += Math.max(...row.map((p) => p.h));
  }
  return {
    uid,
    title,
    description,
    tags: ['stint', 'web-analytics'],
    timezone: 'utc',
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: '1m',
    time: { from: 'now-7d', to: 'now' },
    templating: {
      list: [
        {
          name: 'site',
          label: 'Site',
          type: 'query',
          datasource: DATASOURCE,
          query: 'SELECT DISTINCT site_id FROM stint.sessions ORDER BY site_id',
          definition: 'SELECT DISTINCT site_id FROM stint.sessions ORDER BY site_id',
          refresh: 1,
          multi: false,
          includeAll: false,
          current: {},
          options: [],
          sort: 1,
        },
      ],
    },
    annotations: { list: [] },
    links: [{ title: 'Stint dashboards', type: 'dashboards', tags: ['stint'], asDropdown: true }],
    panels,
  };
}

const stat = (title: string, expr: string, unit?: string, from = 'stint.sessions'): PanelSpec => ({
  title,
  kind: 'stat',
  w: 4,
  h: 4,
  ...(unit ? { unit } : {}),
  sql: `SELECT ${expr} AS value\nFROM ${from}\nWHERE ${IN_RANGE}`,
});

const DURATION_BUCKET = `multiIf(duration_s < 10, '0-10 s', duration_s < 30, '10-30 s', duration_s < 60, '30-60 s',
  duration_s < 180, '1-3 min', duration_s < 600, '3-10 min', duration_s < 1800, '10-30 min', '30+ min')`;

const SOURCE = "if(source = '', '(direct)', source)";

export const DASHBOARDS: Record<string, Record<string, unknown>> = {
  'stint-overview': dashboard(
    'stint-overview',
    'Stint · Overview',
    'Visitors, sessions and pageviews of one site',
    [
      [
        stat('Visitors', 'uniqExact(visitor_id)'),
        stat('Sessions', 'count()'),
        stat('Pageviews', 'sum(pageviews)'),
        stat('Bounce rate', 'avg(is_bounce)', 'percentunit'),
        stat('Avg session duration', 'avg(duration_s)', 's'),
        stat('Engagement rate', 'avg(is_engaged)', 'percentunit'),
      ],
      [
        {
          title: 'Visitors, sessions and pageviews',
          kind: 'timeseries',
          w: 24,
          h: 9,
          sql: `SELECT ${BUCKET}, uniqExact(visitor_id) AS visitors, count() AS sessions, sum(pageviews) AS pageviews
          FROM stint.sessions
          WHERE ${IN_RANGE}
          GROUP BY time
          ORDER BY time`,
        },
      ],
      [
        {
          title: 'Top pages',
          kind: 'table',
          w: 12,
          h: 9,
          sql: `SELECT path, count() AS pageviews, uniqExact(visitor_id) AS visitors, uniqExact(session_id) AS sessions
          FROM stint.pageviews
          WHERE ${SITE} AND $__timeFilter(ts)
          GROUP BY path
          ORDER BY pageviews DESC
          LIMIT 20`,
        },
        {
          title: 'Sessions by country',
          kind: 'table',
          w: 6,
          h: 9,
          sql: `SELECT if(country = '', '(unknown)', country) AS country, count() AS sessions, uniqExact(visitor_id) AS visitors
          FROM stint.sessions
          WHERE ${IN_RANGE}
          GROUP BY country
          ORDER BY sessions DESC
          LIMIT 20`,
        },
        {
          title: 'Sessions by device',
          kind: 'piechart',
          w: 6,
          h: 9,
          sql: `SELECT device, count() AS sessions
          FROM stint.sessions
          WHERE ${IN_RANGE}
          GROUP BY device
          ORDER BY sessions DESC`,
        },
      ],
      [
        {
          title: 'Browsers',
          kind: 'table',
          w: 12,
          h: 8,
          sql: `SELECT browser, count() AS sessions, avg(is_bounce) AS bounce_rate, avg(duration_s) AS avg_duration_s
          FROM stint.sessions
          WHERE ${IN_RANGE}
          GROUP BY browser
          ORDER BY sessions DESC
          LIMIT 20`,
        },
        {
          title: 'Operating systems',
          kind: 'table',
          w: 12,
          h: 8,
          sql: `SELECT os, count() AS sessions, avg(is_bounce) AS bounce_rate, avg(duration_s) AS avg_duration_s
          FROM stint.sessions
          WHERE ${IN_RANGE}
          GROUP BY os
          ORDER BY sessions DESC
          LIMIT 20`,
        },
      ],
    ],
  ),

  'stint-duration': dashboard('stint-duration', 'Stint · Session duration', 'How long sessions last', [
    [
      stat('Avg duration', 'avg(duration_s)', 's'),
      stat('Median duration', 'quantileExact(0.5)(duration_s)', 's'),
      stat('p90 duration', 'quantileExact(0.9)(duration_s)', 's'),
      stat('Sessions', 'count()'),
      stat('Pages per session', 'avg(pageviews)'),
      stat('Avg engaged time', 'avg(engaged_ms) / 1000', 's'),
    ],
    [
      {
        title: 'Session duration histogram',
        kind: 'barchart',
        w: 12,
        h: 9,
        sql: `SELECT ${DURATION_BUCKET} AS duration, count() AS sessions
          FROM stint.sessions
          WHERE ${IN_RANGE}
          GROUP BY duration
          ORDER BY min(duration_s)`,
      },
      {
        title: 'Average and median duration',
        kind: 'timeseries',
        w: 12,
        h: 9,
        unit: 's',
        sql: `SELECT ${BUCKET}, avg(duration_s) AS avg_duration, quantileExact(0.5)(duration_s) AS median_duration
          FROM stint.sessions
          WHERE ${IN_RANGE}
          GROUP BY time
          ORDER BY time`,
      },
    ],
    [
      {
        title: 'Duration by source',
        kind: 'table',
        w: 12,
        h: 8,
        sql: `SELECT ${SOURCE} AS source, count() AS sessions, avg(duration_s) AS avg_duration_s,
          quantileExact(0.5)(duration_s) AS median_duration_s
          FROM stint.sessions
          WHERE ${IN_RANGE}
          GROUP BY source
          ORDER BY sessions DESC
          LIMIT 20`,
      },
      {
        title: 'Duration by device',
        kind: 'table',
        w: 12,
        h: 8,
        sql: `SELECT device, count() AS sessions, avg(duration_s) AS avg_duration_s, quantileExact(0.9)(duration_s) AS p90_duration_s
          FROM stint.sessions
          WHERE ${IN_RANGE}
          GROUP BY device
          ORDER BY sessions DESC`,
      },
    ],
  ]),

  'stint-frequency': dashboard(
    'stint-frequency',
    'Stint · Session frequency',
    'How often visitors come back',
    [
      [
        stat('Visitors', 'uniqExact(visitor_id)'),
        stat('Sessions per visitor', 'count() / uniqExact(visitor_id)'),
        {
          title: 'Returning visitor share',
          kind: 'stat',
          w: 4,
          h: 4,
          unit: 'percentunit',
          description:
            'Visitors of the range who had a session before their first session in the range, at any time.',
          sql: `SELECT avg(first_ever < first_in_range) AS value
          FROM (
          SELECT visitor_id, min(started_at) AS first_in_range
          FROM stint.sessions
          WHERE ${IN_RANGE}
          GROUP BY visitor_id
          ) AS in_range
          ANY LEFT JOIN (
          SELECT visitor_id, min(started_at) AS first_ever
          FROM stint.sessions
          WHERE ${SITE}
          GROUP BY visitor_id
          ) AS history USING visitor_id`,
        },
      ],
      [
        {
          title: 'Sessions per visitor',
          kind: 'barchart',
          w: 12,
          h: 9,
          sql: `SELECT multiIf(n = 1, '1', n = 2, '2', n <= 5, '3-5', n <= 10, '6-10', '11+') AS sessions_per_visitor, count() AS visitors
          FROM (
          SELECT visitor_id, count() AS n
          FROM stint.sessions
          WHERE ${IN_RANGE}
          GROUP BY visitor_id
          )
          GROUP BY sessions_per_visitor
          ORDER BY min(n)`,
        },
        {
          title: 'Days since the previous session',
          kind: 'barchart',
          w: 12,
          h: 9,
          description:
            "Sessions of the range by days since the same visitor's previous session (first sessions left out).",
          sql: `SELECT multiIf(gap_days = 0, '0', gap_days = 1, '1', gap_days <= 7, '2-7', gap_days <= 30, '8-30', '31+') AS days_since_previous,
          count() AS sessions
          FROM (
          SELECT start, prev, intDiv(start - prev, 86400) AS gap_days
          FROM (
          SELECT arraySort(groupArray(toUInt32(started_at))) AS starts
          FROM stint.sessions
          WHERE ${SITE} AND started_at <= $__toTime
          GROUP BY visitor_id
          )
          ARRAY JOIN starts AS start, arrayPushFront(arrayPopBack(starts), 0) AS prev
          )
          WHERE prev > 0 AND start >= toUInt32($__fromTime) AND start <= toUInt32($__toTime)
          GROUP BY days_since_previous
          ORDER BY min(gap_days)`,
        },
      ],
      [
        {
          title: 'New vs returning visitors',
          kind: 'timeseries',
          w: 24,
          h: 9,
          description:
            'New: the session is the visitor’s first ever. Returning: the visitor had a session before.',
          sql: `SELECT ${BUCKET},
          uniqExactIf(visitor_id, started_at = first_ever) AS new_visitors,
          uniqExactIf(visitor_id, started_at > first_ever) AS returning_visitors
          FROM stint.sessions
          ANY LEFT JOIN (
          SELECT visitor_id, min(started_at) AS first_ever
          FROM stint.sessions
          WHERE ${SITE}
          GROUP BY visitor_id
          ) AS history USING visitor_id
          WHERE ${IN_RANGE}
          GROUP BY time
          ORDER BY time`,
        },
      ],
    ],
  ),

  'stint-engagement': dashboard(
    'stint-engagement',
    'Stint · Engagement',
    'Engaged sessions (GA4 style), bounces and events',
    [
      [
        stat('Engaged sessions', 'sum(is_engaged)'),
        stat('Engagement rate', 'avg(is_engaged)', 'percentunit'),
        stat('Bounce rate', 'avg(is_bounce)', 'percentunit'),
        stat('Avg engaged time', 'avg(engaged_ms) / 1000', 's'),
        stat('Events per session', 'avg(events)'),
        stat('Conversion rate', 'avg(has_conversion)', 'percentunit'),
      ],
      [
        {
          title: 'Engagement and bounce rate',
          kind: 'timeseries',
          w: 24,
          h: 9,
          unit: 'percentunit',
          sql: `SELECT ${BUCKET}, avg(is_engaged) AS engagement_rate, avg(is_bounce) AS bounce_rate
          FROM stint.sessions
          WHERE ${IN_RANGE}
          GROUP BY time
          ORDER BY time`,
        },
      ],
      [
        {
          title: 'Engagement by landing page',
          kind: 'table',
          w: 14,
          h: 9,
          sql: `SELECT entry_path AS landing_page, count() AS sessions, avg(is_engaged) AS engagement_rate,
          avg(is_bounce) AS bounce_rate, avg(engaged_ms) / 1000 AS avg_engaged_s
          FROM stint.sessions
          WHERE ${IN_RANGE}
          GROUP BY landing_page
          ORDER BY sessions DESC
          LIMIT 20`,
        },
        {
          title: 'Custom events',
          kind: 'table',
          w: 10,
          h: 9,
          sql: `SELECT name AS event, count() AS events, uniqExact(session_id) AS sessions, uniqExact(visitor_id) AS visitors
          FROM stint.events
          WHERE ${SITE} AND $__timeFilter(ts) AND name NOT IN ('pageview', 'engagement')
          GROUP BY event
          ORDER BY events DESC
          LIMIT 20`,
        },
      ],
    ],
  ),

  'stint-acquisition': dashboard('stint-acquisition', 'Stint · Acquisition', 'Where sessions come from', [
    [
      {
        title: 'Sources',
        kind: 'table',
        w: 14,
        h: 10,
        sql: `SELECT ${SOURCE} AS source, medium, count() AS sessions, uniqExact(visitor_id) AS visitors,
          avg(is_bounce) AS bounce_rate, avg(duration_s) AS avg_duration_s, avg(is_engaged) AS engagement_rate
          FROM stint.sessions
          WHERE ${IN_RANGE}
          GROUP BY source, medium
          ORDER BY sessions DESC
          LIMIT 30`,
      },
      {
        title: 'Sessions by channel',
        kind: 'piechart',
        w: 10,
        h: 10,
        sql: `SELECT if(channel = '', '(none)', channel) AS channel, count() AS sessions
          FROM stint.sessions
          WHERE ${IN_RANGE}
          GROUP BY channel
          ORDER BY sessions DESC`,
      },
    ],
    [
      {
        title: 'Sessions by source',
        kind: 'timeseries',
        w: 24,
        h: 9,
        sql: `SELECT ${BUCKET}, ${SOURCE} AS source, count() AS sessions
          FROM stint.sessions
          WHERE ${IN_RANGE}
          GROUP BY time, source
          ORDER BY time`,
      },
    ],
    [
      {
        title: 'Campaigns',
        kind: 'table',
        w: 12,
        h: 9,
        sql: `SELECT if(campaign = '', '(none)', campaign) AS campaign, count() AS sessions, uniqExact(visitor_id) AS visitors,
          avg(is_engaged) AS engagement_rate, avg(has_conversion) AS conversion_rate
          FROM stint.sessions
          WHERE ${IN_RANGE}
          GROUP BY campaign
          ORDER BY sessions DESC
          LIMIT 20`,
      },
      {
        title: 'Referrers',
        kind: 'table',
        w: 12,
        h: 9,
        sql: `SELECT if(referrer_host = '', '(none)', referrer_host) AS referrer, count() AS sessions,
          uniqExact(visitor_id) AS visitors, avg(duration_s) AS avg_duration_s
          FROM stint.sessions
          WHERE ${IN_RANGE}
          GROUP BY referrer
          ORDER BY sessions DESC
          LIMIT 20`,
      },
    ],
  ]),
};

export function dashboardJson(name: string): string {
  return `${JSON.stringify(DASHBOARDS[name], null, 2)}\n`;
}

async function main(): Promise<void> {
  for (const name of Object.keys(DASHBOARDS)) {
    const path = join(DASHBOARD_DIR, `${name}.json`);
    await writeFile(path, dashboardJson(name));
    console.log(`wrote ${path}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}

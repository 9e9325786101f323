/**
 * Expands a panel's SQL the way Grafana and the official ClickHouse data source plugin
 * (grafana-clickhouse-datasource v4) do before sending it: dashboard variables first (by Grafana), then
 * the plugin's macros. Times are whole epoch seconds, as the plugin writes them.
 *
 *   $__timeFilter(col)  → col >= toDateTime(<from>) AND col <= toDateTime(<to>)
 *   $__dateFilter(col)  → col >= toDate('<from date>') AND col <= toDate('<to date>')
 *   $__fromTime         → toDateTime(<from>)          $__toTime → toDateTime(<to>)
 *   $__interval_s       → <interval in seconds>
 *
 * `$__timeInterval(col)` is deliberately not expanded: the plugin turns it into toStartOfInterval,
 * which ClickHouse 18.16 lacks, so a panel that uses it fails the test.
 */

export interface GrafanaContext {
  /** Epoch ms of the dashboard's time range. */
  from: number;
  to: number;
  intervalS: number;
  variables: Record<string, string>;
}

/** Grafana's `singlequote` format: the value in single quotes, quotes inside escaped with a backslash. */
function singleQuote(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function interpolateVariables(sql: string, vars: Record<string, string>): string {
  const value = (name: string, format?: string): string => {
    const v = vars[name];
    if (v === undefined) throw new Error(`unknown dashboard variable ${name}`);
    if (format === undefined || format === 'raw') return v;
    if (format === 'singlequote') return singleQuote(v);
    if (format === 'sqlstring') return `'${v.replace(/'/g, "''")}'`;
    throw new Error(`variable format ${format} is not handled by this test`);
  };
  return sql
    .replace(/\$\{(\w+)(?::(\w+))?\}/g, (_m, name: string, format?: string) => value(name, format))
    .replace(/\[\[(\w+)\]\]/g, (_m, name: string) => value(name))
    .replace(/\$(?!__)(\w+)/g, (_m, name: string) => value(name));
}

export function expandMacros(sql: string, ctx: Omit<GrafanaContext, 'variables'>): string {
  const from = Math.floor(ctx.from / 1000);
  const to = Math.floor(ctx.to / 1000);
  const date = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  return sql
    .replace(
      /\$__timeFilter\(\s*([^)]+?)\s*\)/g,
      (_m, col: string) => `${col} >= toDateTime(${from}) AND ${col} <= toDateTime(${to})`,
    )
    .replace(
      /\$__dateFilter\(\s*([^)]+?)\s*\)/g,
      (_m, col: string) => `${col} >= toDate('${date(ctx.from)}') AND ${col} <= toDate('${date(ctx.to)}')`,
    )
    .replace(/\$__fromTime\b/g, `toDateTime(${from})`)
    .replace(/\$__toTime\b/g, `toDateTime(${to})`)
    .replace(/\$__interval_s\b/g, String(ctx.intervalS));
}

/** Variables, then macros; throws when anything Grafana-ish is left over. */
export function expandPanelSql(sql: string, ctx: GrafanaContext): string {
  const out = expandMacros(interpolateVariables(sql, ctx.variables), ctx);
  const left = /\$__\w+|\$\{|\[\[/.exec(out);
  if (left) throw new Error(`unexpanded Grafana syntax ${left[0]} in:\n${out}`);
  return out;
}

/**
 * Pieces shared by the report queries. Every value reaches SQL through `sql`/`quote` from the access
 * layer; identifiers through `ident`. The only raw fragments are the column names in `FILTER_COLUMNS`
 * and `BREAKDOWN_COLUMNS`, chosen from fixed maps by validated keys. All SQL here runs on ClickHouse
 * 18.16 and on current ClickHouse: no window functions, no toStartOfInterval, no DateTime64.
 */
import { ident, join, type RawSql, raw, sql } from '@stint/infra/clickhouse';

export const FILTER_KEYS = [
  'page',
  'entry_page',
  'source',
  'medium',
  'campaign',
  'referrer',
  'country',
  'device',
  'browser',
  'os',
] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];
export type Filters = Partial<Record<FilterKey, string>>;

/** Session-level filters: the column of the `sessions` view each one compares with. */
const FILTER_COLUMNS: Record<Exclude<FilterKey, 'page'>, string> = {
  entry_page: 'entry_path',
  source: 'source',
  medium: 'medium',
  campaign: 'campaign',
  referrer: 'referrer_host',
  country: 'country',
  device: 'device',
  browser: 'browser',
  os: 'os',
};

/**
 * A session's events may come after the session's start by up to the site's maximum session length
 * (at most 7 days, see the site settings); event scans for sessions started in a range reach this far
 * past its end.
 */
export const EVENT_SLACK_S = 7 * 24 * 3600;

/** What every report query needs: which database and site, the UTC range and the filters. */
export interface ReportParams {
  database: string;
  site: string;
  /** IANA zone for day, week, month and hour boundaries. */
  timezone: string;
  /** Inclusive UTC start. */
  from: Date;
  /** Exclusive UTC end. */
  to: Date;
  filters: Filters;
}

export function tables(database: string): { sessions: RawSql; events: RawSql } {
  const db = ident(database);
  return { sessions: sql`${db}.sessions`, events: sql`${db}.events` };
}

/** A UTC DateTime literal, explicit about its zone so the server's own zone never matters. */
export function dateTime(d: Date): RawSql {
  return sql`toDateTime(${d}, 'UTC')`;
}

/** The end of the range plus the slack for events of sessions started in it. */
export function eventsUntil(p: ReportParams): RawSql {
  return dateTime(new Date(p.to.getTime() + EVENT_SLACK_S * 1000));
}

/** Conditions on the `sessions` view for the filters (without site and range). */
export function filterConditions(p: ReportParams): RawSql[] {
  const { events } = tables(p.database);
  const out: RawSql[] = [];
  for (const key of Object.keys(FILTER_COLUMNS) as (keyof typeof FILTER_COLUMNS)[]) {
    const value = p.filters[key];
    if (value !== undefined) out.push(sql`${raw(FILTER_COLUMNS[key])} = ${value}`);
  }
  if (p.filters.page !== undefined) {
    // A session matches `page` when it has a page view of that path.
    out.push(
      sql`session_id IN (SELECT session_id FROM ${events}
        WHERE site_id = ${p.site} AND name = 'pageview' AND path = ${p.filters.page}
          AND ts >= ${dateTime(p.from)} AND ts < ${eventsUntil(p)})`,
    );
  }
  return out;
}

/** The selected sessions: this site, started in `[from, to)`, matching every filter. */
export function sessionSelection(p: ReportParams): RawSql {
  return join(
    [
      sql`site_id = ${p.site}`,
      sql`started_at >= ${dateTime(p.from)}`,
      sql`started_at < ${dateTime(p.to)}`,
      ...filterConditions(p),
    ],
    ' AND ',
  );
}

/** Divides, giving 0 instead of NaN/inf for an empty denominator. */
export function ratio(numerator: string, denominator: string): RawSql {
  return raw(`if(${denominator} = 0, 0, ${numerator} / ${denominator})`);
}

import { type RawSql, raw } from '@stint/infra/clickhouse';
import type { ReportParams } from './common.ts';
import { sessionMetricsSql } from './session-metrics.ts';

/** One row (or none, when no session matches) with every metric of METRICS.md over the range. */
export function summaryQuery(p: ReportParams): RawSql {
  return sessionMetricsSql(p, raw('0'));
}

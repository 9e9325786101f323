/** The report queries: one SQL builder per function, importable by the api and by benchmarks. */
export { BREAKDOWN_COLUMNS_OUT, BREAKDOWNS, type Breakdown, breakdownQuery } from './breakdown.ts';
export {
  EVENT_SLACK_S,
  FILTER_KEYS,
  type FilterKey,
  type Filters,
  type ReportParams,
  sessionSelection,
} from './common.ts';
export { DURATION_BUCKETS, durationQuery } from './duration.ts';
export {
  DAYS_SINCE_PREVIOUS_BUCKETS,
  FREQUENCY_TOTAL_COLUMNS,
  frequencyQuery,
  SESSIONS_PER_VISITOR_BUCKETS,
} from './frequency.ts';
export { REALTIME_WINDOW_S, type RealtimeParams, realtimeQuery, topPagesNowQuery } from './realtime.ts';
export { METRIC_COLUMNS, type MetricName, type Metrics, toMetrics } from './session-metrics.ts';
export { summaryQuery } from './summary.ts';
export { bucketCount, INTERVALS, type Interval, timeseriesQuery } from './timeseries.ts';

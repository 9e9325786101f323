/**
 * The api's wire types: query strings and responses as zod schemas. They validate requests, type the
 * handlers and generate the OpenAPI document at /docs. README.md describes the same shapes.
 */
import { z } from 'zod';
import { BREAKDOWNS } from './queries/breakdown.ts';
import type { FILTER_KEYS } from './queries/common.ts';
import { INTERVALS } from './queries/timeseries.ts';
import { parseTimeInput } from './time.ts';

export const SiteParam = z.object({
  site: z
    .string()
    .min(1)
    .max(253)
    .regex(/^[a-z0-9][a-z0-9.-]*$/, 'a site is a lower-case host name like example.com'),
});

const time = (what: string) =>
  z
    .string()
    .max(40)
    .refine((v) => parseTimeInput(v) !== null, {
      message: `${what} must be a date (2024-03-01) or a datetime (2024-03-01T10:00, with optional Z or ±hh:mm)`,
    })
    .optional()
    .describe(
      `${what}: a date in the site's time zone or a datetime; a local datetime is read in the site's zone`,
    );

const filter = (what: string) =>
  z.string().max(1024).optional().describe(`only sessions whose ${what} equals this value`);

const filterFields = {
  page: filter('page views include this path'),
  entry_page: filter('entry page path'),
  source: filter('source'),
  medium: filter('medium'),
  campaign: filter('campaign'),
  referrer: filter('referrer host'),
  country: filter('country code'),
  device: filter('device class'),
  browser: filter('browser'),
  os: filter('operating system'),
} satisfies Record<(typeof FILTER_KEYS)[number], z.ZodType>;

export const RangeQuery = z.strictObject({
  from: time('from (inclusive)'),
  to: time('to (a date: inclusive; a datetime: exclusive)'),
  compare: z
    .enum(['previous', 'none'])
    .optional()
    .describe('previous: also report the period of the same length before'),
  ...filterFields,
});
export type RangeQuery = z.infer<typeof RangeQuery>;

export const TimeseriesQuery = RangeQuery.extend({
  interval: z.enum(INTERVALS).default('day'),
});
export const BreakdownQuery = RangeQuery.extend({
  by: z.enum(BREAKDOWNS),
  limit: z.coerce.number().int().min(1).max(1000).default(10),
});
export const FrequencyQuery = TimeseriesQuery;
export const RealtimeQuery = z.strictObject({
  ...filterFields,
  limit: z.coerce.number().int().min(1).max(100).default(10),
});

// ------------------------------------------------------------------ responses

const n = z.number();
export const MetricsSchema = z.object({
  visitors: n,
  sessions: n,
  pageviews: n,
  pages_per_session: n,
  bounces: n,
  bounce_rate: n,
  avg_duration_s: n,
  median_duration_s: n,
  engaged_sessions: n,
  engagement_rate: n,
  avg_engaged_time_s: n,
  events_per_session: n,
  sessions_per_visitor: n,
  new_visitors: n,
  returning_visitors: n,
  returning_visitor_share: n,
});

const TimeseriesData = z.object({
  interval: z.enum(INTERVALS),
  points: z.array(MetricsSchema.extend({ bucket: z.string() })),
});

const BreakdownData = z.object({
  by: z.enum(BREAKDOWNS),
  rows: z.array(
    z.object({
      key: z.string(),
      visitors: n,
      sessions: n,
      pageviews: n,
      bounce_rate: n,
      avg_duration_s: n,
      engagement_rate: n,
    }),
  ),
});

const DurationData = z.object({
  sessions: n,
  buckets: z.array(z.object({ label: z.string(), min_s: n, max_s: n.nullable(), sessions: n, share: n })),
  avg_s: n,
  median_s: n,
  p90_s: n,
});

const FrequencyData = z.object({
  visitors: n,
  sessions_per_visitor: z.array(z.object({ label: z.string(), min: n, max: n.nullable(), visitors: n })),
  days_since_previous: z.object({
    sessions: n,
    first_sessions: n,
    buckets: z.array(z.object({ label: z.string(), min_days: n, max_days: n.nullable(), sessions: n })),
  }),
  new_vs_returning: z.object({
    interval: z.enum(INTERVALS),
    points: z.array(z.object({ bucket: z.string(), visitors: n, new_visitors: n, returning_visitors: n })),
  }),
});

const RealtimeData = z.object({
  window_s: n,
  now: z.string(),
  visitors: n,
  sessions: n,
  pageviews: n,
  top_pages: z.array(z.object({ path: z.string(), visitors: n, pageviews: n })),
});

const Range = z.object({
  from: z.string().describe('inclusive start, ISO 8601 UTC'),
  to: z.string().describe('exclusive end, ISO 8601 UTC'),
});

/** The envelope of every ranged report: the current period's data and, with compare=previous, the previous one. */
function report<T extends z.ZodType>(data: T) {
  return z.object({
    site: z.string(),
    timezone: z.string(),
    range: Range,
    data,
    previous: z.object({ range: Range, data }).optional(),
  });
}

export const SummaryResponse = report(MetricsSchema);
export const TimeseriesResponse = report(TimeseriesData);
export const BreakdownResponse = report(BreakdownData);
export const DurationResponse = report(DurationData);
export const FrequencyResponse = report(FrequencyData);
export const RealtimeResponse = z.object({ site: z.string(), timezone: z.string(), data: RealtimeData });

export const ErrorResponse = z.object({
  statusCode: n,
  error: z.string(),
  message: z.string(),
  field: z.string().optional(),
});

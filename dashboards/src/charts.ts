/**
 * uPlot wrappers in the dashboard's dark theme: a time chart (buckets as local wall-clock times, so
 * labels show the site's days and hours) and a category bar chart for histograms.
 */
import uPlot from 'uplot';

export const COLORS = {
  green: '#73bf69',
  blue: '#5794f2',
  yellow: '#fade2a',
  orange: '#ff9830',
  purple: '#b877d9',
  red: '#f2495c',
  grid: 'rgba(204, 204, 220, 0.08)',
  axis: '#8e8e9c',
};

export interface Series {
  label: string;
  values: number[];
  color: string;
  dash?: boolean;
}

const axis = (extra: Partial<uPlot.Axis> = {}): uPlot.Axis => ({
  stroke: COLORS.axis,
  grid: { stroke: COLORS.grid, width: 1 },
  ticks: { stroke: COLORS.grid, width: 1 },
  font: '11px system-ui, sans-serif',
  ...extra,
});

/** Bucket labels from the api (`YYYY-MM-DD` or `YYYY-MM-DD hh:mm:ss`, local time) → seconds, read as UTC. */
export function bucketSeconds(bucket: string): number {
  const iso = bucket.length === 10 ? `${bucket}T00:00:00Z` : `${bucket.replace(' ', 'T')}Z`;
  return Date.parse(iso) / 1000;
}

const charts = new WeakMap<HTMLElement, uPlot>();
const observed = new WeakSet<HTMLElement>();

function size(el: HTMLElement, height: number) {
  return { width: Math.max(200, el.clientWidth), height };
}

function mount(el: HTMLElement, opts: uPlot.Options, data: uPlot.AlignedData): uPlot {
  charts.get(el)?.destroy();
  el.replaceChildren();
  const plot = new uPlot(opts, data, el);
  charts.set(el, plot);
  if (!observed.has(el)) {
    observed.add(el);
    new ResizeObserver(() => {
      const p = charts.get(el);
      if (p) p.setSize(size(el, p.height));
    }).observe(el);
  }
  return plot;
}

/** Tick steps (s) per bucket size, so a daily series is not labelled with hours. */
const INCRS: Record<string, number[]> = {
  hour: [3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86_400],
  day: [86_400, 2 * 86_400, 7 * 86_400, 14 * 86_400, 28 * 86_400],
  week: [7 * 86_400, 14 * 86_400, 28 * 86_400, 91 * 86_400],
  month: [28 * 86_400, 91 * 86_400, 365 * 86_400],
};

export function timeChart(
  el: HTMLElement,
  x: number[],
  series: Series[],
  interval: keyof typeof INCRS = 'day',
  height = 240,
): uPlot {
  const opts: uPlot.Options = {
    ...size(el, height),
    // Buckets are local wall-clock times encoded as UTC: show them as such.
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    cursor: { points: { size: 6 } },
    legend: { live: true },
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
    axes: [axis({ incrs: INCRS[interval] ?? INCRS.day }), axis({ size: 48 })],
    series: [
      {},
      ...series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: 2,
        ...(s.dash ? { dash: [6, 4] } : { fill: `${s.color}1f` }),
        points: { show: x.length < 40 },
      })),
    ],
  };
  return mount(el, opts, [x, ...series.map((s) => s.values)]);
}

export function barChart(el: HTMLElement, labels: string[], series: Series[], height = 200): uPlot {
  const bars = uPlot.paths.bars;
  const n = labels.length;
  const opts: uPlot.Options = {
    ...size(el, height),
    legend: { show: series.length > 1 },
    cursor: { points: { show: false } },
    scales: {
      x: { time: false, range: () => [-0.5, n - 0.5] },
      y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] },
    },
    axes: [
      axis({
        grid: { show: false },
        splits: () => labels.map((_, i) => i),
        values: (_u, splits) => splits.map((i) => labels[i] ?? ''),
      }),
      axis({ size: 44 }),
    ],
    series: [
      { label: 'bucket', value: (_u, i) => (i === null ? '' : (labels[i] ?? '')) },
      ...series.map((s, k) => ({
        label: s.label,
        stroke: s.color,
        fill: `${s.color}b0`,
        width: 1,
        ...(bars
          ? {
              paths: bars({
                size: [series.length > 1 ? 0.35 : 0.7, 80],
                align: (series.length > 1 ? (k === 0 ? -1 : 1) : 0) as -1 | 0 | 1,
              }),
            }
          : {}),
        points: { show: false },
      })),
    ],
  };
  return mount(el, opts, [labels.map((_, i) => i), ...series.map((s) => s.values)]);
}

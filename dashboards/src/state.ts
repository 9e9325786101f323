/**
 * The dashboard's view state (site, range, compare, filters) and its round trip through the URL hash,
 * so a view can be reloaded or shared. The token is never part of it (sessionStorage only).
 */

/** Filters the api accepts (api/src/schemas.ts), in the order chips are shown. */
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

export const PRESETS = ['today', '7d', '30d', 'custom'] as const;
export type Preset = (typeof PRESETS)[number];

export interface ViewState {
  site: string;
  preset: Preset;
  /** Local dates (YYYY-MM-DD) of a custom range, `to` inclusive. */
  from: string;
  to: string;
  compare: boolean;
  filters: Filters;
}

export const DEFAULT_STATE: ViewState = {
  site: '',
  preset: '7d',
  from: '',
  to: '',
  compare: true,
  filters: {},
};

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function isFilterKey(k: string): k is FilterKey {
  return (FILTER_KEYS as readonly string[]).includes(k);
}

function isPreset(p: string): p is Preset {
  return (PRESETS as readonly string[]).includes(p);
}

/** `#site=a.example&range=7d&compare=1&f.source=google` → state; unknown or bad parts are ignored. */
export function parseHash(hash: string): ViewState {
  const q = new URLSearchParams(hash.replace(/^#/, ''));
  const filters: Filters = {};
  for (const [k, v] of q) {
    const key = k.startsWith('f.') ? k.slice(2) : '';
    if (isFilterKey(key)) filters[key] = v;
  }
  const range = q.get('range') ?? '';
  const from = q.get('from') ?? '';
  const to = q.get('to') ?? '';
  const custom = range === 'custom' && DATE.test(from) && DATE.test(to);
  return {
    site: q.get('site') ?? '',
    preset: custom ? 'custom' : isPreset(range) && range !== 'custom' ? range : DEFAULT_STATE.preset,
    from: custom ? from : '',
    to: custom ? to : '',
    compare: q.get('compare') !== '0',
    filters,
  };
}

export function toHash(s: ViewState): string {
  const q = new URLSearchParams();
  if (s.site) q.set('site', s.site);
  q.set('range', s.preset);
  if (s.preset === 'custom') {
    q.set('from', s.from);
    q.set('to', s.to);
  }
  q.set('compare', s.compare ? '1' : '0');
  for (const k of FILTER_KEYS) {
    const v = s.filters[k];
    if (v !== undefined) q.set(`f.${k}`, v);
  }
  return `#${q.toString()}`;
}

/** The filter a click on a breakdown row adds; null where the api has no matching filter (exit page). */
export function filterForBreakdown(by: string): FilterKey | null {
  if (by === 'exit_page' || by === 'start_reason') return null;
  return isFilterKey(by) ? by : null;
}

export function withFilter(s: ViewState, key: FilterKey, value: string): ViewState {
  return { ...s, filters: { ...s.filters, [key]: value } };
}

export function withoutFilter(s: ViewState, key: FilterKey): ViewState {
  const filters = { ...s.filters };
  delete filters[key];
  return { ...s, filters };
}

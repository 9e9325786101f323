/**
 * The built-in dashboard. The page's layout is static HTML (painted before this script runs); this
 * script asks for a token, loads the reports for the view in the URL hash, and renders them. Reports
 * render as they arrive; a newer load abandons an older one.
 */
import 'uplot/dist/uPlot.min.css';
import './app.css';
import {
  ApiError,
  AuthError,
  type BreakdownRow,
  type Metrics,
  type Query,
  type RealtimeReport,
  StintApi,
} from './api.ts';
import { barChart, bucketSeconds, COLORS, timeChart } from './charts.ts';
import { byId, h } from './dom.ts';
import { formatChange, formatCount, formatDuration, formatValue, type Unit } from './format.ts';
import { type Interval, localDate, resolvePreset } from './ranges.ts';
import {
  FILTER_KEYS,
  type FilterKey,
  filterForBreakdown,
  type Preset,
  parseHash,
  toHash,
  type ViewState,
  withFilter,
  withoutFilter,
} from './state.ts';

const TOKEN_KEY = 'stint.token';
const REALTIME_EVERY_MS = 10_000;

const STATS: { key: keyof Metrics; label: string; unit: Unit; lowerIsBetter?: boolean }[] = [
  { key: 'visitors', label: 'Visitors', unit: 'count' },
  { key: 'sessions', label: 'Sessions', unit: 'count' },
  { key: 'pageviews', label: 'Pageviews', unit: 'count' },
  { key: 'pages_per_session', label: 'Pages / session', unit: 'decimal' },
  { key: 'bounce_rate', label: 'Bounce rate', unit: 'rate', lowerIsBetter: true },
  { key: 'avg_duration_s', label: 'Avg duration', unit: 'seconds' },
  { key: 'median_duration_s', label: 'Median duration', unit: 'seconds' },
  { key: 'engagement_rate', label: 'Engagement rate', unit: 'rate' },
  { key: 'avg_engaged_time_s', label: 'Avg engaged time', unit: 'seconds' },
  { key: 'sessions_per_visitor', label: 'Sessions / visitor', unit: 'decimal' },
  { key: 'returning_visitor_share', label: 'Returning visitors', unit: 'rate' },
];

/** Breakdown panels and their tabs (the api's `by` values). */
const BREAKDOWN_PANELS: { id: string; tabs: { by: string; label: string }[] }[] = [
  {
    id: 'bd-sources',
    tabs: [
      { by: 'source', label: 'Source' },
      { by: 'medium', label: 'Medium' },
      { by: 'campaign', label: 'Campaign' },
      { by: 'referrer', label: 'Referrer' },
    ],
  },
  {
    id: 'bd-pages',
    tabs: [
      { by: 'page', label: 'Pages' },
      { by: 'entry_page', label: 'Entry pages' },
      { by: 'exit_page', label: 'Exit pages' },
    ],
  },
  { id: 'bd-countries', tabs: [{ by: 'country', label: 'Countries' }] },
  {
    id: 'bd-devices',
    tabs: [
      { by: 'device', label: 'Devices' },
      { by: 'browser', label: 'Browsers' },
      { by: 'os', label: 'OS' },
    ],
  },
];

const FILTER_LABELS: Record<FilterKey, string> = {
  page: 'page',
  entry_page: 'entry page',
  source: 'source',
  medium: 'medium',
  campaign: 'campaign',
  referrer: 'referrer',
  country: 'country',
  device: 'device',
  browser: 'browser',
  os: 'OS',
};

let state: ViewState = parseHash(location.hash);
let api: StintApi | null = null;
/** The server's today in the site's zone, learned from the realtime report. */
let today: { site: string; date: string } | null = null;
const activeTab = new Map<string, string>(BREAKDOWN_PANELS.map((p) => [p.id, p.tabs[0]?.by ?? '']));
let generation = 0;
let inflight: AbortController | null = null;
let realtimeTimer: ReturnType<typeof setInterval> | null = null;

// ------------------------------------------------------------------ token and site

function showLogin(message = ''): void {
  const dialog = byId<HTMLDialogElement>('login');
  byId('login-error').textContent = message;
  byId<HTMLInputElement>('login-site').value = state.site;
  if (!dialog.open) dialog.showModal();
  (state.site ? byId<HTMLInputElement>('login-token') : byId<HTMLInputElement>('login-site')).focus();
}

function signOut(message = ''): void {
  sessionStorage.removeItem(TOKEN_KEY);
  api = null;
  stopRealtime();
  showLogin(message);
}

function onLogin(e: Event): void {
  e.preventDefault();
  const token = byId<HTMLInputElement>('login-token').value.trim();
  const site = byId<HTMLInputElement>('login-site').value.trim().toLowerCase();
  if (!token || !site) {
    byId('login-error').textContent = 'Enter a read token and a site.';
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  byId<HTMLInputElement>('login-token').value = '';
  byId<HTMLDialogElement>('login').close();
  api = new StintApi(token);
  setState({ ...state, site });
}

// ------------------------------------------------------------------ state

function setState(next: ViewState): void {
  if (next.site !== state.site) today = null;
  state = next;
  const hash = toHash(state);
  if (location.hash !== hash) history.replaceState(null, '', hash);
  syncControls();
  void load();
}

function syncControls(): void {
  byId<HTMLInputElement>('site').value = state.site;
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-preset]')) {
    b.classList.toggle('active', b.dataset.preset === state.preset);
  }
  byId('custom-range').hidden = state.preset !== 'custom';
  byId<HTMLInputElement>('compare').checked = state.compare;
  const chips = byId('chips');
  const keys = FILTER_KEYS.filter((k) => state.filters[k] !== undefined);
  chips.replaceChildren(
    ...keys.map((k) =>
      h(
        'span',
        { class: 'chip', 'data-filter': k },
        h('span', { class: 'chip-key' }, FILTER_LABELS[k]),
        ' is ',
        h('strong', {}, display(state.filters[k] ?? '')),
        h(
          'button',
          {
            type: 'button',
            class: 'chip-remove',
            'aria-label': `remove ${FILTER_LABELS[k]} filter`,
            onclick: () => setState(withoutFilter(state, k)),
          },
          '×',
        ),
      ),
    ),
  );
  byId('filters-bar').hidden = keys.length === 0;
}

const display = (key: string) => (key === '' ? '(none)' : key);

// ------------------------------------------------------------------ loading

/** The range of the view; `interval` goes only to the reports that take one (the api is strict). */
function rangeQuery(): { query: Query & { from: string; to: string }; interval: Interval } {
  const r = resolvePreset(state.preset, today?.date ?? localDate(Date.now(), 'UTC'), state);
  return {
    query: { from: r.from, to: r.to, compare: state.compare, filters: state.filters },
    interval: r.interval,
  };
}

async function load(): Promise<void> {
  if (!api || !state.site) return;
  const client = api;
  const gen = ++generation;
  inflight?.abort();
  const ctl = new AbortController();
  inflight = ctl;
  const site = state.site;
  document.body.classList.add('loading');
  byId('status').textContent = '';
  try {
    // Realtime first: it tells the server's "now" and the site's zone, which anchor the presets.
    if (!today || today.site !== site) {
      const rt = await client.realtime(site, { filters: state.filters }, ctl.signal);
      if (gen !== generation) return;
      today = { site, date: localDate(Date.parse(rt.data.now), rt.timezone) };
      renderRealtime(rt);
    } else {
      void refreshRealtime();
    }
    startRealtime();
    const { query: q, interval } = rangeQuery();
    byId('range-label').textContent = q.from === q.to ? q.from : `${q.from} → ${q.to}`;
    byId<HTMLInputElement>('from').value = q.from;
    byId<HTMLInputElement>('to').value = q.to;
    const guard = <T>(p: Promise<T>, render: (v: T) => void) =>
      p.then((v) => {
        if (gen === generation) render(v);
      });
    await Promise.all([
      guard(client.summary(site, q, ctl.signal), (r) => renderStats(r.data, r.previous?.data)),
      guard(client.timeseries(site, { ...q, interval }, ctl.signal), (r) =>
        renderTimeseries(r.data.interval, r.data.points, r.previous?.data.points),
      ),
      ...BREAKDOWN_PANELS.map((p) => loadBreakdown(p.id, gen, ctl.signal)),
      guard(client.duration(site, { ...q, compare: false }, ctl.signal), (r) => renderDuration(r.data)),
      guard(client.frequency(site, { ...q, interval, compare: false }, ctl.signal), (r) =>
        renderFrequency(r.data),
      ),
    ]);
    if (gen === generation) document.body.dataset.loaded = String(gen);
  } catch (err) {
    if (gen === generation) fail(err);
  } finally {
    if (gen === generation) document.body.classList.remove('loading');
  }
}

function fail(err: unknown): void {
  if (err instanceof DOMException && err.name === 'AbortError') return;
  if (err instanceof AuthError) {
    signOut('The api refused this token. Enter a valid read token.');
    return;
  }
  if (err instanceof ApiError && (err.status === 403 || err.status === 404)) {
    stopRealtime();
    showLogin(err.status === 403 ? `This token may not read ${state.site}.` : `Unknown site ${state.site}.`);
    return;
  }
  byId('status').textContent = err instanceof Error ? err.message : String(err);
}

async function loadBreakdown(panelId: string, gen: number, signal: AbortSignal): Promise<void> {
  if (!api) return;
  const by = activeTab.get(panelId) ?? '';
  const r = await api.breakdown(state.site, { ...rangeQuery().query, compare: false, by, limit: 10 }, signal);
  if (gen === generation && activeTab.get(panelId) === by) renderBreakdown(panelId, by, r.data.rows);
}

// ------------------------------------------------------------------ realtime

async function refreshRealtime(): Promise<void> {
  if (!api || !state.site) return;
  try {
    const site = state.site;
    const rt = await api.realtime(site, { filters: state.filters });
    if (site === state.site) renderRealtime(rt);
  } catch (err) {
    fail(err);
  }
}

function startRealtime(): void {
  if (realtimeTimer !== null) return;
  realtimeTimer = setInterval(() => {
    if (document.visibilityState === 'visible') void refreshRealtime();
  }, REALTIME_EVERY_MS);
}

function stopRealtime(): void {
  if (realtimeTimer !== null) clearInterval(realtimeTimer);
  realtimeTimer = null;
}

function renderRealtime(rt: RealtimeReport): void {
  const d = rt.data;
  byId('rt-visitors').textContent = formatCount(d.visitors);
  byId('rt-sessions').textContent = formatCount(d.sessions);
  byId('rt-pageviews').textContent = formatCount(d.pageviews);
  byId('rt-updated').textContent =
    `updated ${new Date(d.now).toLocaleTimeString('en-GB', { timeZone: rt.timezone })} (${rt.timezone})`;
  const body = byId('rt-pages');
  body.replaceChildren(
    ...(d.top_pages.length === 0
      ? [h('tr', {}, h('td', { class: 'empty', colspan: 3 }, 'No one on the site right now'))]
      : d.top_pages.map((p) =>
          h(
            'tr',
            {},
            h('td', { class: 'key' }, p.path),
            h('td', {}, formatCount(p.visitors)),
            h('td', {}, formatCount(p.pageviews)),
          ),
        )),
  );
}

// ------------------------------------------------------------------ panels

function renderStats(m: Metrics, prev: Metrics | undefined): void {
  // First meaningful paint, for the browser test and anyone profiling: the numbers are on screen.
  if (performance.getEntriesByName('stint:stats').length === 0) performance.mark('stint:stats');
  const grid = byId('stats');
  grid.replaceChildren(
    ...STATS.map((s) => {
      const change = prev ? formatChange(m[s.key], prev[s.key], s.unit) : null;
      const good =
        change && change.direction !== 'flat'
          ? (change.direction === 'up') !== (s.lowerIsBetter === true)
          : null;
      return h(
        'div',
        { class: 'panel stat', 'data-stat': s.key },
        h('div', { class: 'stat-label' }, s.label),
        h('div', { class: 'stat-value' }, formatValue(m[s.key], s.unit)),
        prev
          ? h(
              'div',
              {
                class: `stat-change ${good === null ? 'flat' : good ? 'good' : 'bad'}`,
                title: `previous period: ${formatValue(prev[s.key], s.unit)}`,
              },
              change
                ? `${change.direction === 'up' ? '▲' : change.direction === 'down' ? '▼' : '■'} ${change.text}`
                : 'new',
              h('span', { class: 'stat-prev' }, ` vs ${formatValue(prev[s.key], s.unit)}`),
            )
          : null,
      );
    }),
  );
}

function renderTimeseries(
  interval: Interval,

  points: ({ bucket: string } & Metrics)[],
  prev?: ({ bucket: string } & Metrics)[],
): void {
  const x = points.map((p) => bucketSeconds(p.bucket));
  const series = [
    { label: 'Visitors', values: points.map((p) => p.visitors), color: COLORS.green },
    { label: 'Sessions', values: points.map((p) => p.sessions), color: COLORS.blue },
    { label: 'Pageviews', values: points.map((p) => p.pageviews), color: COLORS.yellow },
  ];
  if (prev) {
    // The previous period, aligned bucket by bucket with the current one.
    series.push({
      label: 'Sessions (previous)',
      values: points.map((_, i) => prev[i]?.sessions ?? 0),
      color: COLORS.purple,
      dash: true,
    } as (typeof series)[number]);
  }
  timeChart(byId('timeseries'), x, series, interval);
}

function renderBreakdown(panelId: string, by: string, rows: BreakdownRow[]): void {
  const panel = byId(panelId);
  const filter = filterForBreakdown(by);
  const max = Math.max(1, ...rows.map((r) => r.sessions));
  const body = panel.querySelector('tbody');
  if (!body) return;
  panel.dataset.by = by;
  body.replaceChildren(
    ...(rows.length === 0
      ? [h('tr', {}, h('td', { class: 'empty', colspan: 6 }, 'No data'))]
      : rows.map((r) =>
          h(
            'tr',
            {
              class: filter ? 'clickable' : '',
              'data-key': r.key,
              title: filter ? `Filter: ${FILTER_LABELS[filter]} is ${display(r.key)}` : undefined,
              onclick: filter ? () => setState(withFilter(state, filter, r.key)) : undefined,
            },
            h(
              'td',
              { class: 'key' },
              h('span', { class: 'bar', style: `width:${((r.sessions / max) * 100).toFixed(1)}%` }),
              h('span', { class: 'label' }, display(r.key)),
            ),
            h('td', {}, formatCount(r.visitors)),
            h('td', {}, formatCount(r.sessions)),
            h('td', {}, formatValue(r.bounce_rate, 'rate')),
            h('td', {}, formatDuration(r.avg_duration_s)),
            h('td', {}, formatValue(r.engagement_rate, 'rate')),
          ),
        )),
  );
}

function valueList(id: string, items: { label: string; value: number }[]): void {
  byId(id).replaceChildren(
    ...items.map((i) => h('li', {}, h('span', {}, i.label), h('strong', {}, formatCount(i.value)))),
  );
}

function renderDuration(d: {
  buckets: { label: string; sessions: number }[];
  median_s: number;
  p90_s: number;
  avg_s: number;
}): void {
  barChart(
    byId('duration-chart'),
    d.buckets.map((b) => b.label),
    [{ label: 'Sessions', values: d.buckets.map((b) => b.sessions), color: COLORS.blue }],
  );
  valueList(
    'duration-values',
    d.buckets.map((b) => ({ label: b.label, value: b.sessions })),
  );
  byId('duration-summary').textContent =
    `median ${formatDuration(d.median_s)} · p90 ${formatDuration(d.p90_s)} · avg ${formatDuration(d.avg_s)}`;
}

function renderFrequency(f: import('./api.ts').FrequencyData): void {
  barChart(
    byId('spv-chart'),
    f.sessions_per_visitor.map((b) => b.label),
    [{ label: 'Visitors', values: f.sessions_per_visitor.map((b) => b.visitors), color: COLORS.green }],
  );
  valueList(
    'spv-values',
    f.sessions_per_visitor.map((b) => ({ label: b.label, value: b.visitors })),
  );
  const dsp = f.days_since_previous;
  barChart(
    byId('dsp-chart'),
    dsp.buckets.map((b) => b.label),
    [{ label: 'Sessions', values: dsp.buckets.map((b) => b.sessions), color: COLORS.orange }],
  );
  valueList(
    'dsp-values',
    dsp.buckets.map((b) => ({ label: `${b.label} d`, value: b.sessions })),
  );
  byId('dsp-summary').textContent = `${formatCount(dsp.first_sessions)} first sessions not shown`;
  const pts = f.new_vs_returning.points;
  timeChart(
    byId('nvr-chart'),
    pts.map((p) => bucketSeconds(p.bucket)),
    [
      { label: 'New', values: pts.map((p) => p.new_visitors), color: COLORS.green },
      { label: 'Returning', values: pts.map((p) => p.returning_visitors), color: COLORS.purple },
    ],
    f.new_vs_returning.interval,
    200,
  );
}

// ------------------------------------------------------------------ wiring

function buildBreakdownTabs(): void {
  for (const p of BREAKDOWN_PANELS) {
    const tabs = byId(p.id).querySelector('.tabs');
    if (!tabs) continue;
    tabs.replaceChildren(
      ...p.tabs.map((t) =>
        h(
          'button',
          {
            type: 'button',
            class: `tab${activeTab.get(p.id) === t.by ? ' active' : ''}`,
            'data-tab': t.by,
            onclick: (e: Event) => {
              activeTab.set(p.id, t.by);
              for (const b of tabs.querySelectorAll('.tab'))
                b.classList.toggle('active', b === e.currentTarget);
              void loadBreakdown(p.id, generation, inflight?.signal ?? new AbortController().signal).catch(
                fail,
              );
            },
          },
          t.label,
        ),
      ),
    );
  }
}

function wire(): void {
  byId<HTMLFormElement>('login-form').addEventListener('submit', onLogin);
  byId<HTMLFormElement>('site-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const site = byId<HTMLInputElement>('site').value.trim().toLowerCase();
    if (site) setState({ ...state, site });
  });
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-preset]')) {
    b.addEventListener('click', () => {
      const preset = b.dataset.preset as Preset;
      if (preset === 'custom') {
        const q = rangeQuery().query;
        setState({ ...state, preset, from: state.from || q.from, to: state.to || q.to });
      } else setState({ ...state, preset });
    });
  }
  byId<HTMLFormElement>('custom-range').addEventListener('submit', (e) => {
    e.preventDefault();
    const from = byId<HTMLInputElement>('from').value;
    const to = byId<HTMLInputElement>('to').value;
    if (from && to) setState({ ...state, preset: 'custom', from, to });
  });
  byId<HTMLInputElement>('compare').addEventListener('change', (e) =>
    setState({ ...state, compare: (e.target as HTMLInputElement).checked }),
  );
  byId('refresh').addEventListener('click', () => void load());
  byId('sign-out').addEventListener('click', () => signOut());
  window.addEventListener('hashchange', () => {
    const next = parseHash(location.hash);
    if (toHash(next) !== toHash(state)) setState(next);
  });
  buildBreakdownTabs();
}

function start(): void {
  wire();
  syncControls();
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token || !state.site) {
    showLogin();
    return;
  }
  api = new StintApi(token);
  void load();
}

start();

/**
 * The built-in dashboard. The page's layout is static HTML (painted before this script runs); this
 * script finds the sign-in session (`GET /auth/me`) or asks the user to sign in (or, as a second option,
 * for an API token), loads the reports for the view in the URL hash, and renders them. Reports render as
 * they arrive; a newer load abandons an older one.
 */
import 'uplot/dist/uPlot.min.css';
import './app.css';
import {
  type Account,
  ApiError,
  AuthError,
  type BreakdownRow,
  fetchAccount,
  login,
  loginMessage,
  logout,
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
/** The signed-in account (with its CSRF token: memory only), or null in token mode / signed out. */
let account: Account | null = null;
/** The server's today in the site's zone, learned from the realtime report. */
let today: { site: string; date: string } | null = null;
const activeTab = new Map<string, string>(BREAKDOWN_PANELS.map((p) => [p.id, p.tabs[0]?.by ?? '']));
let generation = 0;
let inflight: AbortController | null = null;
let realtimeTimer: ReturnType<typeof setInterval> | null = null;
/** One `GET /auth/me` shared by every report that got a 401 at about the same time. */
let recheckInflight: Promise<boolean> | null = null;

// ------------------------------------------------------------------ sign-in, token and site

type LoginView = 'account' | 'token';

function showLogin(message = '', view: LoginView = 'account'): void {
  const dialog = byId<HTMLDialogElement>('login');
  byId<HTMLFormElement>('login-form').hidden = view !== 'account';
  byId<HTMLFormElement>('token-form').hidden = view !== 'token';
  byId('login-error').textContent = view === 'account' ? message : '';
  byId('token-error').textContent = view === 'token' ? message : '';
  if (!dialog.open) dialog.showModal();
  if (view === 'account') {
    const email = byId<HTMLInputElement>('login-email');
    (email.value ? byId<HTMLInputElement>('login-password') : email).focus();
  } else {
    byId<HTMLInputElement>('token-site').value = state.site;
    (state.site ? byId<HTMLInputElement>('token-token') : byId<HTMLInputElement>('token-site')).focus();
  }
}

/** Forgets every credential held by the page and shows the sign-in form. */
function signedOut(message = '', view: LoginView = 'account'): void {
  sessionStorage.removeItem(TOKEN_KEY);
  api = null;
  account = null;
  generation++;
  inflight?.abort();
  stopRealtime();
  document.body.classList.remove('loading');
  clearPanels();
  syncAccount();
  showLogin(message, view);
}

/** The session is still valid? (After a 401 from a report: one `GET /auth/me`.) */
function recheckSession(): Promise<boolean> {
  recheckInflight ??= fetchAccount()
    .then((a) => {
      if (a) useAccount(a);
      return a !== null;
    })
    .catch(() => false)
    .finally(() => {
      recheckInflight = null;
    });
  return recheckInflight;
}

function useAccount(a: Account): void {
  account = a;
  if (api?.credentials.kind !== 'session') api = new StintApi({ kind: 'session', recheck: recheckSession });
  syncAccount();
}

/** Opens the dashboard for a freshly signed-in (or found) account. */
function openAccount(a: Account): void {
  sessionStorage.removeItem(TOKEN_KEY);
  useAccount(a);
  const dialog = byId<HTMLDialogElement>('login');
  if (dialog.open) dialog.close();
  const site = state.site || a.sites[0]?.site || '';
  if (!site) {
    byId('status').textContent = a.admin
      ? 'No site is registered yet: add one with stint sites add <site>.'
      : 'Your account has no site yet: ask an admin to grant you one (stint users grant).';
  }
  setState({ ...state, site }, true);
}

async function onLogin(e: Event): Promise<void> {
  e.preventDefault();
  const email = byId<HTMLInputElement>('login-email').value.trim();
  const password = byId<HTMLInputElement>('login-password');
  const error = byId('login-error');
  if (!email || !password.value) {
    error.textContent = 'Enter your e-mail and password.';
    return;
  }
  const button = byId<HTMLFormElement>('login-form').querySelector<HTMLButtonElement>('button[type=submit]');
  if (button) button.disabled = true;
  error.textContent = '';
  try {
    const r = await login(email, password.value);
    if (!r.ok) {
      error.textContent = loginMessage(r);
      password.select();
      return;
    }
    password.value = '';
    openAccount(r.account);
  } catch (err) {
    error.textContent = `Sign-in failed: ${err instanceof Error ? err.message : String(err)}`;
  } finally {
    if (button) button.disabled = false;
  }
}

function onTokenLogin(e: Event): void {
  e.preventDefault();
  const token = byId<HTMLInputElement>('token-token').value.trim();
  const site = byId<HTMLInputElement>('token-site').value.trim().toLowerCase();
  if (!token || !site) {
    byId('token-error').textContent = 'Enter a read token and a site.';
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  byId<HTMLInputElement>('token-token').value = '';
  byId<HTMLDialogElement>('login').close();
  account = null;
  api = new StintApi({ kind: 'token', token });
  syncAccount();
  setState({ ...state, site }, true);
}

async function onSignOut(): Promise<void> {
  if (api?.credentials.kind !== 'session' || !account) {
    signedOut('', api?.credentials.kind === 'token' ? 'token' : 'account');
    return;
  }
  try {
    let status = await logout(account.csrf_token);
    // The session may have been rotated since (a new CSRF token): learn it and try once more.
    if (status === 403 && (await recheckSession()) && account) status = await logout(account.csrf_token);
    if (status === 204 || status === 401) signedOut();
    else byId('status').textContent = `Sign-out failed (${status}).`;
  } catch (err) {
    byId('status').textContent = `Sign-out failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** The account's name and its sites in the site picker: a list for viewers, free typing for admins. */
function syncAccount(): void {
  byId('account').textContent = account ? account.email : api ? 'API token' : '';
  const pick = account !== null && !account.admin;
  byId<HTMLInputElement>('site').hidden = pick;
  byId<HTMLSelectElement>('site-select').hidden = !pick;
  const sites = account?.sites.map((s) => s.site) ?? [];
  byId('site-list').replaceChildren(...sites.map((site) => h('option', { value: site })));
  byId<HTMLSelectElement>('site-select').replaceChildren(
    ...sites.map((site) => h('option', { value: site }, site)),
  );
  syncControls();
}

// ------------------------------------------------------------------ state

/** A new view; `force` reloads even an unchanged one (after a sign-in). */
function setState(next: ViewState, force = false): void {
  if (next.site !== state.site || force) today = null;
  state = next;
  const hash = toHash(state);
  if (location.hash !== hash) history.replaceState(null, '', hash);
  syncControls();
  void load();
}

function syncControls(): void {
  byId<HTMLInputElement>('site').value = state.site;
  const select = byId<HTMLSelectElement>('site-select');
  select.value = state.site;
  if (select.value !== state.site) select.selectedIndex = -1;
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
      const rt = await client.realtime(site, { filters: state.filters }, { signal: ctl.signal });
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
      guard(client.summary(site, q, { signal: ctl.signal }), (r) => renderStats(r.data, r.previous?.data)),
      guard(client.timeseries(site, { ...q, interval }, { signal: ctl.signal }), (r) =>
        renderTimeseries(r.data.interval, r.data.points, r.previous?.data.points),
      ),
      ...BREAKDOWN_PANELS.map((p) => loadBreakdown(p.id, gen, ctl.signal)),
      guard(client.duration(site, { ...q, compare: false }, { signal: ctl.signal }), (r) =>
        renderDuration(r.data),
      ),
      guard(client.frequency(site, { ...q, interval, compare: false }, { signal: ctl.signal }), (r) =>
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
    if (api?.credentials.kind === 'token')
      signedOut('The api refused this token. Enter a valid read token.', 'token');
    else signedOut('Your session has ended. Sign in again.');
    return;
  }
  if (err instanceof ApiError && (err.status === 403 || err.status === 404)) {
    stopRealtime();
    if (api?.credentials.kind === 'token') {
      showLogin(
        err.status === 403 ? `This token may not read ${state.site}.` : `Unknown site ${state.site}.`,
        'token',
      );
      return;
    }
    // Signed in: the account stays; the user picks another site.
    clearPanels();
    byId('status').textContent =
      err.status === 403 ? `Your account may not read ${state.site}.` : `Unknown site ${state.site}.`;
    return;
  }
  byId('status').textContent = err instanceof Error ? err.message : String(err);
}

/** Empties every panel, so that no site's numbers stay on screen under another site's name. */
function clearPanels(): void {
  byId('stats').replaceChildren(
    ...STATS.slice(0, 6).map(() => h('div', { class: 'panel stat placeholder' })),
  );
  for (const id of ['rt-visitors', 'rt-sessions', 'rt-pageviews']) byId(id).textContent = '–';
  for (const id of ['rt-pages', 'rt-updated', 'range-label', 'duration-summary', 'dsp-summary']) {
    byId(id).replaceChildren();
  }
  for (const id of ['timeseries', 'duration-chart', 'spv-chart', 'dsp-chart', 'nvr-chart']) {
    byId(id).replaceChildren();
  }
  for (const id of ['duration-values', 'spv-values', 'dsp-values']) byId(id).replaceChildren();
  for (const p of BREAKDOWN_PANELS) byId(p.id).querySelector('tbody')?.replaceChildren();
}

async function loadBreakdown(panelId: string, gen: number, signal: AbortSignal): Promise<void> {
  if (!api) return;
  const by = activeTab.get(panelId) ?? '';
  const r = await api.breakdown(
    state.site,
    { ...rangeQuery().query, compare: false, by, limit: 10 },
    { signal },
  );
  if (gen === generation && activeTab.get(panelId) === by) renderBreakdown(panelId, by, r.data.rows);
}

// ------------------------------------------------------------------ realtime

async function refreshRealtime(): Promise<void> {
  if (!api || !state.site) return;
  try {
    const site = state.site;
    const rt = await api.realtime(site, { filters: state.filters }, { background: true });
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
  byId<HTMLFormElement>('login-form').addEventListener('submit', (e) => void onLogin(e));
  byId<HTMLFormElement>('token-form').addEventListener('submit', onTokenLogin);
  byId('use-token').addEventListener('click', () => showLogin('', 'token'));
  byId('use-account').addEventListener('click', () => showLogin('', 'account'));
  // Without credentials there is nothing to show behind the dialog: Escape does not close it.
  byId('login').addEventListener('cancel', (e) => {
    if (!api) e.preventDefault();
  });
  byId<HTMLFormElement>('site-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const site = byId<HTMLInputElement>('site').value.trim().toLowerCase();
    if (site) setState({ ...state, site });
  });
  byId<HTMLSelectElement>('site-select').addEventListener('change', (e) => {
    const site = (e.target as HTMLSelectElement).value;
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
  byId('sign-out').addEventListener('click', () => void onSignOut());
  window.addEventListener('hashchange', () => {
    const next = parseHash(location.hash);
    if (toHash(next) !== toHash(state)) setState(next);
  });
  buildBreakdownTabs();
}

/**
 * A token chosen in this tab wins (kept in sessionStorage); otherwise the sign-in session, if any.
 */
async function start(): Promise<void> {
  wire();
  syncControls();
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token && state.site) {
    api = new StintApi({ kind: 'token', token });
    syncAccount();
    void load();
    return;
  }
  try {
    const a = await fetchAccount();
    if (a) openAccount(a);
    else showLogin();
  } catch (err) {
    // No sign-in on this server (api built without accounts) or it is unreachable: tokens still work.
    const why = err instanceof Error ? err.message : String(err);
    showLogin(`Sign-in is not available (${why}); use an API token.`, 'token');
  }
}

void start();

import { describe, expect, it } from 'vitest';
import { loginMessage, queryString, retryAfterSeconds } from '../src/api.ts';
import { formatChange, formatDuration, formatValue } from '../src/format.ts';
import { addDays, intervalFor, localDate, resolvePreset } from '../src/ranges.ts';
import {
  DEFAULT_STATE,
  filterForBreakdown,
  parseHash,
  toHash,
  withFilter,
  withoutFilter,
} from '../src/state.ts';

describe('view state in the URL hash', () => {
  it('round-trips site, range, compare and filters, including awkward values', () => {
    const s = {
      ...DEFAULT_STATE,
      site: 'a.example',
      preset: 'custom' as const,
      from: '2024-03-01',
      to: '2024-03-09',
      compare: false,
      filters: { source: "o'brien & co", page: '/a?b=c#d', country: '' },
    };
    expect(parseHash(toHash(s))).toEqual(s);
  });

  it('falls back to the defaults for unknown presets, bad dates and unknown filters', () => {
    const s = parseHash('#site=x.example&range=custom&from=yesterday&to=2024-01-01&f.nope=1&f.os=iOS');
    expect(s).toEqual({ ...DEFAULT_STATE, site: 'x.example', filters: { os: 'iOS' } });
    expect(parseHash('#range=90d').preset).toBe('7d');
  });

  it('adds and removes filters without touching the others', () => {
    const a = withFilter(withFilter(DEFAULT_STATE, 'source', 'google'), 'device', 'mobile');
    expect(a.filters).toEqual({ source: 'google', device: 'mobile' });
    expect(withoutFilter(a, 'source').filters).toEqual({ device: 'mobile' });
  });

  it('maps breakdown rows to the filter a click adds, and none for exit pages', () => {
    expect(filterForBreakdown('page')).toBe('page');
    expect(filterForBreakdown('referrer')).toBe('referrer');
    expect(filterForBreakdown('exit_page')).toBeNull();
    expect(filterForBreakdown('start_reason')).toBeNull();
  });
});

describe('time-range presets', () => {
  it('resolves today, 7 and 30 days as whole local days ending today', () => {
    const custom = { from: '', to: '' };
    expect(resolvePreset('today', '2024-03-01', custom)).toEqual({
      from: '2024-03-01',
      to: '2024-03-01',
      interval: 'hour',
    });
    expect(resolvePreset('7d', '2024-03-01', custom)).toEqual({
      from: '2024-02-24',
      to: '2024-03-01',
      interval: 'day',
    });
    expect(resolvePreset('30d', '2024-03-01', custom)).toEqual({
      from: '2024-02-01',
      to: '2024-03-01',
      interval: 'day',
    });
  });

  it('orders a reversed custom range and picks a coarser interval for long spans', () => {
    expect(resolvePreset('custom', '2024-03-01', { from: '2024-03-05', to: '2023-01-01' })).toEqual({
      from: '2023-01-01',
      to: '2024-03-05',
      interval: 'week',
    });
    expect(intervalFor(2000)).toBe('month');
  });

  it("takes today's date in the site's time zone", () => {
    const t = Date.UTC(2024, 2, 10, 2, 0, 0);
    expect(localDate(t, 'UTC')).toBe('2024-03-10');
    expect(localDate(t, 'America/New_York')).toBe('2024-03-09');
    expect(addDays('2024-02-28', 2)).toBe('2024-03-01');
  });
});

describe('formatting', () => {
  it('formats durations, rates and counts the way the panels show them', () => {
    expect(formatDuration(5.4)).toBe('5s');
    expect(formatDuration(125)).toBe('2m 05s');
    expect(formatDuration(3725)).toBe('1h 02m');
    expect(formatValue(0.4567, 'rate')).toBe('45.7%');
    expect(formatValue(12345, 'count')).toBe('12,345');
  });

  it('shows rate changes in percentage points and other changes relative to the previous period', () => {
    expect(formatChange(0.5, 0.4, 'rate')).toEqual({ text: '+10 pp', direction: 'up' });
    expect(formatChange(150, 100, 'count')).toEqual({ text: '+50%', direction: 'up' });
    expect(formatChange(50, 100, 'seconds')).toEqual({ text: '-50%', direction: 'down' });
    expect(formatChange(3, 0, 'count')).toBeNull();
  });
});

describe('api query strings', () => {
  it('sends compare=previous, the range and only the filters that are set', () => {
    expect(
      queryString({
        from: '2024-03-01',
        to: '2024-03-02',
        compare: true,
        filters: { source: 'a b', os: undefined },
      }),
    ).toBe('?from=2024-03-01&to=2024-03-02&compare=previous&source=a+b');
  });
});

describe('sign-in messages', () => {
  it('reads Retry-After as seconds or as an HTTP date, and nothing from a missing or bad header', () => {
    const now = Date.UTC(2024, 4, 15, 12, 0, 0);
    expect(retryAfterSeconds('900', now)).toBe(900);
    expect(retryAfterSeconds(' 7 ', now)).toBe(7);
    expect(retryAfterSeconds('Wed, 15 May 2024 12:01:30 GMT', now)).toBe(90);
    expect(retryAfterSeconds('Wed, 15 May 2024 11:00:00 GMT', now)).toBe(0);
    expect(retryAfterSeconds(null, now)).toBeNull();
    expect(retryAfterSeconds('soon', now)).toBeNull();
  });

  it('says wrong e-mail or password for a 401 and how long to wait for a 429', () => {
    expect(loginMessage({ ok: false, status: 401 })).toBe('Wrong e-mail or password.');
    expect(loginMessage({ ok: false, status: 429, retryAfterS: 42 })).toBe(
      'Too many attempts, retry in 42 s.',
    );
    expect(loginMessage({ ok: false, status: 429, message: 'x' })).toBe('Too many attempts, retry later.');
    expect(loginMessage({ ok: false, status: 403, message: 'cross-site request refused' })).toBe(
      'cross-site request refused',
    );
  });
});

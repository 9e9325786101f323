import { describe, expect, it } from 'vitest';
import {
  classify,
  isStaticPath,
  parseCombinedLine,
  parseLogTime,
  toServerEvent,
} from '../src/import/log-line.ts';

const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
const line = (over: { req?: string; status?: number; ref?: string; ua?: string; time?: string } = {}) =>
  `203.0.113.9 - frank [${over.time ?? '10/Oct/2024:13:55:36 -0700'}] "${over.req ?? 'GET /pricing?plan=pro HTTP/1.1'}" ${over.status ?? 200} 2326 "${over.ref ?? 'https://www.google.com/'}" "${over.ua ?? CHROME}"`;

describe('combined log lines', () => {
  it('parses every field, with the time zone offset applied', () => {
    expect(parseCombinedLine(line())).toEqual({
      ip: '203.0.113.9',
      ts: Date.parse('2024-10-10T20:55:36Z'),
      method: 'GET',
      target: '/pricing?plan=pro',
      status: 200,
      referrer: 'https://www.google.com/',
      userAgent: CHROME,
    });
  });

  it('parses times east of UTC and rejects impossible ones', () => {
    expect(parseLogTime('01/Jan/2025:00:30:00 +0130')).toBe(Date.parse('2024-12-31T23:00:00Z'));
    expect(parseLogTime('01/Foo/2025:00:30:00 +0000')).toBeNaN();
    expect(parseCombinedLine(line({ time: 'yesterday' }))).toBeNull();
  });

  it('reads "-" as an empty referrer and user agent, and accepts IPv6 clients', () => {
    const e = parseCombinedLine(line({ ref: '-', ua: '-' }).replace('203.0.113.9', '2001:db8::1'));
    expect(e).toMatchObject({ ip: '2001:db8::1', referrer: '', userAgent: '' });
  });

  it('unescapes Apache \\" and nginx \\xHH escapes, including UTF-8 bytes', () => {
    expect(parseCombinedLine(line({ ua: 'say \\"hi\\"' }))?.userAgent).toBe('say "hi"');
    expect(parseCombinedLine(line({ ua: 'caf\\xC3\\xA9 \\x22x\\x22' }))?.userAgent).toBe('café "x"');
  });

  it('accepts the common format without referrer and user agent', () => {
    const e = parseCombinedLine('127.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.0" 200 -');
    expect(e).toMatchObject({ target: '/', referrer: '', userAgent: '' });
  });

  it('returns null for lines of another format', () => {
    for (const l of [
      '',
      'garbage',
      '{"json":"log"}',
      '203.0.113.9 - - [10/Oct/2024:13:55:36 -0700] "-" 400 0 "-" "-"',
    ]) {
      expect(parseCombinedLine(l)).toBeNull();
    }
  });
});

describe('which lines are page views', () => {
  const verdict = (over: Parameters<typeof line>[0]) => {
    const e = parseCombinedLine(line(over));
    if (e === null) throw new Error('unparsed');
    return classify(e);
  };

  it('keeps GET requests answered 2xx or 3xx by a browser', () => {
    expect(verdict({})).toBe('page');
    expect(verdict({ status: 304 })).toBe('page');
    expect(verdict({ req: 'GET /blog/post-1/ HTTP/2.0' })).toBe('page');
  });

  it('drops other methods, errors, static assets and bots', () => {
    expect(verdict({ req: 'POST /api/x HTTP/1.1' })).toBe('not_get');
    expect(verdict({ status: 404 })).toBe('status');
    expect(verdict({ status: 500 })).toBe('status');
    expect(verdict({ req: 'GET /assets/app.3f2a.js HTTP/1.1' })).toBe('static');
    expect(verdict({ req: 'GET /favicon.ico HTTP/1.1' })).toBe('static');
    expect(verdict({ req: 'GET /img/logo.PNG?v=2 HTTP/1.1' })).toBe('static');
    expect(verdict({ ua: 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)' })).toBe(
      'bot',
    );
    expect(verdict({ ua: '-' })).toBe('bot');
  });

  it('treats dotted directory names as pages and known extensions as assets', () => {
    expect(isStaticPath('/v1.2/docs')).toBe(false);
    expect(isStaticPath('/docs/guide.pdf')).toBe(true);
    expect(isStaticPath('/about')).toBe(false);
  });
});

describe('the event of a kept line', () => {
  it('carries the original time, IP and user agent, a full URL and a stable event id', () => {
    const l = line();
    const e = parseCombinedLine(l);
    if (e === null) throw new Error('unparsed');
    const ev = toServerEvent(e, { site: 'example.com', baseUrl: 'https://example.com', line: l, lineNo: 7 });
    expect(ev).toMatchObject({
      site: 'example.com',
      name: 'pageview',
      url: 'https://example.com/pricing?plan=pro',
      referrer: 'https://www.google.com/',
      ts: e.ts,
      ip: '203.0.113.9',
      user_agent: CHROME,
    });
    expect(ev.event_id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(
      toServerEvent(e, { site: 'example.com', baseUrl: 'https://example.com', line: l, lineNo: 7 }).event_id,
    ).toBe(ev.event_id);
    expect(
      toServerEvent(e, { site: 'example.com', baseUrl: 'https://example.com', line: l, lineNo: 8 }).event_id,
    ).not.toBe(ev.event_id);
  });

  it('uses the path of an absolute request target', () => {
    const e = parseCombinedLine(line({ req: 'GET http://example.com/x?y=1 HTTP/1.1' }));
    if (e === null) throw new Error('unparsed');
    expect(
      toServerEvent(e, { site: 'example.com', baseUrl: 'https://example.com/', line: '', lineNo: 1 }).url,
    ).toBe('https://example.com/x?y=1');
  });
});

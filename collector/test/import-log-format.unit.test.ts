import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ImportStats, importLogs, router } from '../src/import/import-logs.ts';
import { lineFormat, normalHost, parseAnyTime } from '../src/import/log-format.ts';
import { formatSummary } from '../src/import/summary.ts';

const UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
const T = '10/Oct/2015:13:55:36 -0700';
const TS = Date.parse('2015-10-10T20:55:36Z');
const parse = (spec: Parameters<typeof lineFormat>[0], line: string) => lineFormat(spec).parse(line);

describe('presets', () => {
  it('reads nginx combined lines with trailing fields ($request_time, upstream) as combined', () => {
    const line = `198.51.100.7 - - [${T}] "GET /a?b=1 HTTP/2.0" 200 612 "https://duck.com/" "${UA}" 0.012 "-" upstream=10.0.0.3`;
    expect(parse({ format: 'combined' }, line)).toEqual({
      ip: '198.51.100.7',
      ts: TS,
      method: 'GET',
      target: '/a?b=1',
      status: 200,
      referrer: 'https://duck.com/',
      userAgent: UA,
    });
  });

  it('reads common lines (no referrer, no agent)', () => {
    expect(parse({ format: 'common' }, `198.51.100.7 - bob [${T}] "GET / HTTP/1.0" 304 -`)).toMatchObject({
      target: '/',
      status: 304,
      referrer: '',
      userAgent: '',
    });
  });

  it('reads Apache vhost_combined with the virtual host, lower case and without its port', () => {
    const line = `WWW.Example.com:443 198.51.100.7 - - [${T}] "GET /p HTTP/1.1" 200 10 "-" "${UA}"`;
    const f = lineFormat({ format: 'vhost_combined' });
    expect(f.hasHost).toBe(true);
    expect(f.parse(line)).toMatchObject({
      host: 'www.example.com',
      ip: '198.51.100.7',
      ts: TS,
      target: '/p',
    });
  });

  it('names the known formats when the name is unknown', () => {
    expect(() => lineFormat({ format: 'w3c' })).toThrow(/unknown log format "w3c".*combined.*json/);
  });
});

describe('format strings', () => {
  it('compiles an nginx log_format with host, ISO time and fields after the agent', () => {
    const f = lineFormat({
      formatString:
        '$host $remote_addr [$time_iso8601] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time',
    });
    const line = `shop.example.org 2001:db8::7 [2015-10-10T22:55:36+02:00] "GET /cart HTTP/1.1" 200 99 "-" "${UA}" rt=0.004`;
    expect(f.parse(line)).toEqual({
      host: 'shop.example.org',
      ip: '2001:db8::7',
      ts: TS,
      method: 'GET',
      target: '/cart',
      status: 200,
      referrer: '',
      userAgent: UA,
    });
  });

  it('compiles an Apache LogFormat with %{X-Forwarded-For}i, %D and escaped quotes', () => {
    const f = lineFormat({ formatString: '%h %{X-Forwarded-For}i %t "%r" %>s %D "%{User-Agent}i"' });
    const line = `10.0.0.1 203.0.113.5, 10.0.0.9 [${T}] "GET /x HTTP/1.1" 200 1234 "say \\"hi\\""`;
    // The first X-Forwarded-For address is the visitor; the proxy's %h is not.
    expect(f.parse(line.replace('203.0.113.5, 10.0.0.9', '203.0.113.5,10.0.0.9'))).toMatchObject({
      ip: '203.0.113.5',
      userAgent: 'say "hi"',
    });
    expect(f.parse(`10.0.0.1 - [${T}] "GET /x HTTP/1.1" 200 1 "-"`)).toMatchObject({ ip: '10.0.0.1' });
  });

  it('builds the target from method, path and query fields, and epoch times', () => {
    const f = lineFormat({ formatString: '$msec $remote_addr $request_method $uri $args $status' });
    expect(f.parse('1444510536.123 198.51.100.7 get /s q=stint 200')).toMatchObject({
      ts: TS + 123,
      method: 'GET',
      target: '/s?q=stint',
    });
    expect(f.parse('1444510536.123 198.51.100.7 GET /s - 200')).toMatchObject({ target: '/s' });
  });

  it('counts lines by the reason they do not parse', () => {
    const f = lineFormat({ formatString: '%h %t "%r" %>s' });
    expect(f.parse('garbage')).toBe('no_match');
    expect(f.parse('1.2.3.4 [32/Oct/2015:13:55:36 +0000] "GET / HTTP/1.1" 200')).toBe('bad_time');
    expect(f.parse(`1.2.3.4 [${T}] "-" 200`)).toBe('bad_request');
    expect(f.parse(`1.2.3.4 [${T}] "GET / HTTP/1.1" 2xx`)).toBe('bad_status');
    expect(f.parse(`- [${T}] "GET / HTTP/1.1" 200`)).toBe('no_ip');
  });

  it('refuses a format without a time, a client or a request, and strftime times', () => {
    expect(() => lineFormat({ formatString: '%h "%r"' })).toThrow(/no time field/);
    expect(() => lineFormat({ formatString: '%t "%r"' })).toThrow(/no client address/);
    expect(() => lineFormat({ formatString: '%h %t %>s' })).toThrow(/no request/);
    expect(() => lineFormat({ formatString: '%h %{%Y-%m-%d}t "%r"' })).toThrow(/only %t/);
  });
});

describe('named-group regular expressions', () => {
  it("takes Matomo's (?P<name>…) groups, a time without zone plus a timezone group", () => {
    const f = lineFormat({
      formatRegex:
        '^(?P<ip>\\S+) (?P<host>\\S+) \\[(?P<date>[^ \\]]+) (?P<timezone>[+-]\\d{4})\\] "(?P<method>\\S+) (?P<path>\\S+)[^"]*" (?P<status>\\d+) "(?P<user_agent>[^"]*)"',
    });
    expect(f.hasHost).toBe(true);
    expect(f.parse(`198.51.100.7 a.example [${T}] "GET /r HTTP/1.1" 200 "${UA}"`)).toMatchObject({
      ip: '198.51.100.7',
      host: 'a.example',
      ts: TS,
      target: '/r',
      userAgent: UA,
    });
  });

  it('says which group is missing or what is wrong with the expression', () => {
    expect(() => lineFormat({ formatRegex: '(?<ip>\\S+) (?<path>\\S+)' })).toThrow(/\(\?<time>…\)/);
    expect(() => lineFormat({ formatRegex: '(?<ip>' })).toThrow(/--log-format-regex/);
  });
});

describe('JSON lines', () => {
  it("reads nginx's escape=json names by default", () => {
    const line = JSON.stringify({
      time_local: T,
      remote_addr: '198.51.100.7',
      request: 'GET /j?x=1 HTTP/1.1',
      status: '200',
      http_referer: '',
      http_user_agent: UA,
      host: 'J.example',
      request_time: '0.001',
    });
    expect(parse({ format: 'json' }, line)).toEqual({
      ip: '198.51.100.7',
      ts: TS,
      method: 'GET',
      target: '/j?x=1',
      status: 200,
      referrer: '',
      userAgent: UA,
      host: 'j.example',
    });
  });

  it('reads nested fields, header arrays and numeric times (Caddy), and takes overrides', () => {
    const caddy = JSON.stringify({
      ts: 1444510536.5,
      request: {
        remote_ip: '198.51.100.7',
        method: 'GET',
        host: 'c.example',
        uri: '/c',
        headers: { 'User-Agent': [UA] },
      },
      status: 200,
    });
    expect(parse({ format: 'json' }, caddy)).toMatchObject({
      ip: '198.51.100.7',
      ts: TS + 500,
      target: '/c',
      userAgent: UA,
      host: 'c.example',
    });
    const own = JSON.stringify({ when: '2015-10-10T20:55:36Z', who: { addr: '192.0.2.1' }, page: '/o' });
    expect(
      parse({ format: 'json', jsonFields: { time: 'when', ip: 'who.addr', uri: 'page' } }, own),
    ).toMatchObject({
      ts: TS,
      ip: '192.0.2.1',
      target: '/o',
      method: 'GET',
      status: 200,
    });
    expect(() => lineFormat({ format: 'json', jsonFields: { agent: 'x' } })).toThrow(/unknown field "agent"/);
  });

  it('counts broken JSON and missing fields by reason', () => {
    const f = lineFormat({ format: 'json' });
    expect(f.parse('{"time": ')).toBe('bad_json');
    expect(f.parse('[1,2]')).toBe('bad_json');
    expect(f.parse('{"remote_addr":"1.2.3.4","request":"GET / HTTP/1.1"}')).toBe('no_time');
    expect(f.parse(`{"time":"${T}","request":"GET / HTTP/1.1"}`)).toBe('no_ip');
  });
});

describe('times and hosts', () => {
  it('reads CLF, ISO 8601 and epoch seconds, milliseconds and microseconds', () => {
    expect(parseAnyTime(`[${T}]`)).toBe(TS);
    expect(parseAnyTime('10/Oct/2015:20:55:36')).toBe(TS);
    expect(parseAnyTime('10/Oct/2015:13:55:36', '-0700')).toBe(TS);
    expect(parseAnyTime('2015-10-10 20:55:36')).toBe(TS);
    expect(parseAnyTime('2015-10-10T13:55:36-07:00')).toBe(TS);
    expect(parseAnyTime('1444510536')).toBe(TS);
    expect(parseAnyTime('1444510536000')).toBe(TS);
    expect(parseAnyTime('1444510536000000')).toBe(TS);
    expect(parseAnyTime('yesterday')).toBeNaN();
  });

  it('normalises hosts', () => {
    expect(normalHost(' Example.COM:8080 ')).toBe('example.com');
    expect(normalHost('[2001:db8::1]:443')).toBe('[2001:db8::1]');
  });
});

describe('routing lines to sites by virtual host', () => {
  it('sends every line to --site without host rules', () => {
    expect(router({ site: 'a.com' })(undefined)).toBe('a.com');
  });

  it('filters by --host, with *.domain for subdomains', () => {
    const r = router({ site: 'a.com', hosts: ['a.com', '*.a.com'] });
    expect([r('a.com'), r('www.a.com'), r('b.com'), r('evila.com'), r(undefined)]).toEqual([
      'a.com',
      'a.com',
      null,
      null,
      null,
    ]);
  });

  it('maps hosts to sites; other hosts go to --site when given, else are skipped', () => {
    const map = { 'www.a.com': 'a.com', '*.b.org': 'b.org' };
    expect([router({ vhostMap: map })('www.a.com'), router({ vhostMap: map })('shop.b.org')]).toEqual([
      'a.com',
      'b.org',
    ]);
    expect(router({ vhostMap: map })('c.net')).toBeNull();
    expect(router({ vhostMap: map, site: 'main.com' })('c.net')).toBe('main.com');
  });
});

describe('the summary', () => {
  it('lists sent per site, skipped, unparsed and rejected by reason with the first example', () => {
    const stats: ImportStats = {
      file: 'access.log',
      format: 'combined',
      dryRun: false,
      lines: 12_345,
      pageViews: 9_000,
      sent: 8_998,
      dropped: 0,
      alreadyStored: 120,
      perSite: { 'a.com': 8_000, 'b.org': 998 },
      skipped: { not_get: 1, status: 2, static: 3_000, bot: 300, other_host: 0 },
      unparsed: 44,
      unparsedBy: { no_match: { count: 44, line: 17, text: 'garbage' } },
      rejected: 2,
      rejectedBy: {
        ts_too_old: { count: 2, line: 3, text: 'events.0.ts: older than the accepted 365 days' },
      },
      firstTs: TS,
      lastTs: TS + 86_400_000,
      bytesRead: 1,
      bytesTotal: 1,
      elapsedMs: 2_500,
    };
    const text = formatSummary(stats);
    expect(text).toContain('page views sent    8,998 (a.com 8,000, b.org 998)');
    expect(text).toContain('already imported   120 (stored by an earlier run: not sent again)');
    expect(text).toContain('skipped            3,303 (static 3,000, bot 300, status 2, not_get 1)');
    expect(text).toContain('no_match 44 (first: line 17: garbage)');
    expect(text).toContain('ts_too_old 2 (first: line 3: events.0.ts: older than the accepted 365 days)');
    expect(text).toContain('2015-10-10 20:55:36 … 2015-10-11 20:55:36 UTC');
    expect(formatSummary({ ...stats, dryRun: true })).toMatch(
      /dry run \(nothing sent\)[\s\S]*page views found +9,000/,
    );
  });
});

describe('reading a file (dry run: nothing is sent)', () => {
  const dryRun = async (body: string, format: Parameters<typeof lineFormat>[0]) => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-import-'));
    const file = join(dir, 'access.log');
    writeFileSync(file, body);
    try {
      return await importLogs({
        file,
        format: lineFormat(format),
        routing: { site: 'x.test' },
        token: '',
        collector: 'http://127.0.0.1:1',
        dryRun: true,
      });
    } finally {
      rmSync(dir, { recursive: true });
    }
  };

  it('reads a file of one line (the first chunk is not lost before the reader is attached)', async () => {
    const stats = await dryRun(`198.51.100.7 - - [${T}] "GET /a HTTP/1.1" 200 5 "-" "${UA}"\n`, {
      format: 'combined',
    });
    expect(stats).toMatchObject({ lines: 1, pageViews: 1, perSite: { 'x.test': 1 } });
  });

  it('keeps common-format lines although they have no user agent; combined lines with "-" are scripts', async () => {
    const common = await dryRun(
      `198.51.100.7 - - [${T}] "GET /a HTTP/1.0" 200 5\n198.51.100.8 - - [${T}] "GET /b HTTP/1.0" 200 5\n`,
      { format: 'common' },
    );
    expect(common).toMatchObject({ lines: 2, pageViews: 2, skipped: { bot: 0 } });
    const combined = await dryRun(`198.51.100.7 - - [${T}] "GET /a HTTP/1.1" 200 5 "-" "-"\n`, {
      format: 'combined',
    });
    expect(combined).toMatchObject({ lines: 1, pageViews: 0, skipped: { bot: 1 } });
  });
});

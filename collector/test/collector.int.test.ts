import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { insertRows, toDateTime } from '@stint/infra/clickhouse';
import { addSite } from '@stint/infra/registry';
import { waitFor } from '@stint/infra/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../src/contract/event.ts';
import { historicalIds, stablePartition } from '../src/enrich/visitor-id.ts';
import { importLogs } from '../src/import/import-logs.ts';
import { lineFormat } from '../src/import/log-format.ts';
import { CHROME_UA, GB_IP, type Harness, SITE, startHarness } from './harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness('collector');
});
afterAll(async () => {
  await h?.close();
});

const headers = { 'user-agent': CHROME_UA, 'content-type': 'application/json' };
const marker = () => `m${Math.random().toString(36).slice(2, 10)}`;

async function received(mark: string, count = 1) {
  return waitFor(
    () => {
      const hits = h.received.filter((r) => r.event.props.mark === mark);
      return hits.length >= count ? hits : undefined;
    },
    { timeoutMs: 30_000 },
  );
}

describe('POST /api/event', () => {
  it('answers 202 after Kafka has the enriched event, without the IP', async () => {
    const mark = marker();
    const res = await h.app.inject({
      method: 'POST',
      url: '/api/event',
      headers,
      remoteAddress: GB_IP,
      payload: {
        site: SITE,
        name: 'pageview',
        url: 'https://example.com/pricing?utm_campaign=spring&utm_source=google&utm_medium=cpc',
        referrer: 'https://www.google.com/',
        visitor_id: 'abcdefgh12345678',
        props: { mark },
      },
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: 1, dropped: 0 });
    const [hit] = await received(mark);
    expect(hit?.event).toMatchObject({
      v: 1,
      site_id: SITE,
      visitor_id: 'abcdefgh12345678',
      prev_visitor_id: null,
      name: 'pageview',
      path: '/pricing',
      hostname: 'example.com',
      referrer_host: 'google.com',
      source: 'google',
      medium: 'cpc',
      channel: 'paid',
      campaign: 'spring',
      country: 'GB',
      region: 'England',
      browser: 'Chrome',
      os: 'Windows',
      device: 'desktop',
    });
    expect(hit?.key).toBe(`${SITE}|abcdefgh12345678`);
    expect(hit?.event.ts).toBe(hit?.event.received_at);
    expect(hit?.raw).not.toContain(GB_IP);
  });

  it('accepts a text/plain body as sendBeacon sends it and derives a cookieless id with a stable partition', async () => {
    const mark = marker();
    const res = await h.app.inject({
      method: 'POST',
      url: '/api/event',
      headers: { 'user-agent': CHROME_UA, 'content-type': 'text/plain;charset=UTF-8' },
      remoteAddress: GB_IP,
      payload: JSON.stringify({
        site: SITE,
        name: 'engagement',
        url: 'https://example.com/',
        engaged_ms: 12_345,
        scroll_depth: 80,
        props: { mark },
      }),
    });
    expect(res.statusCode).toBe(202);
    const [hit] = await received(mark);
    expect(hit?.event.visitor_id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(hit?.event).toMatchObject({
      name: 'engagement',
      engaged_ms: 12_345,
      scroll_depth: 80,
      channel: 'direct',
    });
    expect(hit?.partition).toBe(stablePartition(h.salts.secret, SITE, GB_IP, CHROME_UA, h.partitions));
  });

  it('drops bots and headless browsers: counted, answered, not stored', async () => {
    const before = await h.produced();
    const res = await h.app.inject({
      method: 'POST',
      url: '/api/event',
      headers: {
        ...headers,
        'user-agent': 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
      },
      payload: { site: SITE, name: 'pageview', url: 'https://example.com/' },
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: 0, dropped: 1 });
    expect(await h.produced()).toBe(before);
    const metrics = await h.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/stint_collector_events_dropped_total\{reason="bot"\} [1-9]/);
  });

  it('stores unicode and injection-looking strings verbatim', async () => {
    const mark = marker();
    const props = {
      mark,
      emoji: '👩‍👩‍👧 ✓',
      rtl: 'مرحبا',
      combining: 'e\u0301',
      sql: "'; DROP TABLE events; --",
      html: '<script>alert(1)</script>',
      quote: '\\"\\u0000',
    };
    const res = await h.app.inject({
      method: 'POST',
      url: '/api/event',
      headers,
      payload: { site: SITE, name: 'signup 🚀', url: 'https://example.com/ü/日本?q=%27', props },
    });
    expect(res.statusCode).toBe(202);
    const [hit] = await received(mark);
    expect(hit?.event.props).toEqual(props);
    expect(hit?.event.name).toBe('signup 🚀');
    expect(hit?.event.path).toBe('/%C3%BC/%E6%97%A5%E6%9C%AC');
  });
});

describe('GET /e.gif', () => {
  it('records a page view of the page named by the Referer header and returns a GIF', async () => {
    const path = `/pixel-${marker()}`;
    const res = await h.app.inject({
      method: 'GET',
      url: `/e.gif?site=${SITE}`,
      headers: { 'user-agent': CHROME_UA, referer: `https://example.com${path}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/gif');
    expect(res.rawPayload.subarray(0, 6).toString()).toBe('GIF89a');
    const hit = await waitFor(() => h.received.find((r) => r.event.path === path));
    expect(hit.event.name).toBe('pageview');
  });
});

describe('POST /api/events', () => {
  const auth = () => ({ ...headers, authorization: `Bearer ${h.token}` });

  it('takes a batch with original ts, ip, user agent and event ids; cookieless ids are deterministic', async () => {
    const mark = marker();
    const ts = Date.now() - 3 * 86_400_000;
    const events = [
      {
        site: SITE,
        name: 'pageview',
        url: 'https://example.com/a',
        ts,
        ip: GB_IP,
        user_agent: CHROME_UA,
        event_id: `${mark}-1`,
        props: { mark },
      },
      {
        site: SITE,
        name: 'pageview',
        url: 'https://example.com/b',
        ts: new Date(ts + 1000).toISOString(),
        ip: '8.8.8.8',
        event_id: `${mark}-2`,
        props: { mark },
      },
    ];
    const res = await h.app.inject({
      method: 'POST',
      url: '/api/events',
      headers: auth(),
      payload: { site: SITE, events },
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: 2, dropped: 0 });
    const hits = await received(mark, 2);
    const a = hits.find((r) => r.event.event_id === `${mark}-1`)?.event;
    const b = hits.find((r) => r.event.event_id === `${mark}-2`)?.event;
    expect(a).toMatchObject({ ts, country: 'GB', browser: 'Chrome', path: '/a' });
    expect(a?.received_at).toBeGreaterThan(ts);
    expect(a?.visitor_id).toBe(historicalIds(h.salts.secret, ts, SITE, GB_IP, CHROME_UA).visitor_id);
    expect(a?.prev_visitor_id).toBe(
      historicalIds(h.salts.secret, ts, SITE, GB_IP, CHROME_UA).prev_visitor_id,
    );
    expect(b).toMatchObject({ ts: ts + 1000, country: 'US', browser: '', device: 'other' });
  });

  it('splits a batch larger than a Kafka record batch may be and stores all of it', async () => {
    const mark = marker();
    // ~1.6 MB of events for one visitor (one partition): above the broker's 1 MiB message.max.bytes.
    const events = Array.from({ length: 1000 }, (_, i) => ({
      site: SITE,
      name: 'pageview',
      url: `https://example.com/${i}`,
      visitor_id: `big${mark}`,
      props: {
        mark,
        pad: 'x'.repeat(LIMITS.propValue),
        pad2: 'y'.repeat(LIMITS.propValue),
        pad3: 'z'.repeat(500),
      },
    }));
    const res = await h.app.inject({
      method: 'POST',
      url: '/api/events',
      headers: { ...headers, authorization: `Bearer ${h.token}` },
      payload: { site: SITE, events },
    });
    expect(res.statusCode).toBe(202);
    const hits = await received(mark, 1000);
    expect(new Set(hits.map((r) => r.event.path)).size).toBe(1000);
  });

  it('POST /api/import takes events of any age the site allows, never from the future or before 1970', async () => {
    const mark = marker();
    const at = (ts: number | string, n: number) => ({
      site: SITE,
      name: 'pageview',
      url: `https://example.com/${mark}/${n}`,
      ts,
      ip: GB_IP,
      user_agent: CHROME_UA,
      event_id: `${mark}-${n}`,
      props: { mark },
    });
    const post = (url: string, events: unknown[]) =>
      h.app.inject({ method: 'POST', url, headers: auth(), payload: { site: SITE, events } });
    const y2009 = Date.UTC(2009, 4, 1, 12, 0, 0);
    // The same event is refused by POST /api/events (730 days) and taken by POST /api/import.
    const refused = await post('/api/events', [at(y2009, 0)]);
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({ error: 'ts_too_old', field: 'events.0.ts' });
    const res = await post('/api/import', [at(y2009, 1), at('1999-12-31T23:59:59Z', 2)]);
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: 2, dropped: 0, already_stored: 0 });
    const hits = await received(mark, 2);
    expect(hits.find((r) => r.event.event_id === `${mark}-1`)?.event).toMatchObject({
      ts: y2009,
      visitor_id: historicalIds(h.salts.secret, y2009, SITE, GB_IP, CHROME_UA).visitor_id,
    });
    expect(hits.find((r) => r.event.event_id === `${mark}-2`)?.event.ts).toBe(
      Date.UTC(1999, 11, 31, 23, 59, 59),
    );

    const before = await h.produced();
    const future = await post('/api/import', [at(Date.now() + 3_600_000, 3)]);
    expect(future.json()).toMatchObject({ error: 'ts_in_future', field: 'events.0.ts' });
    const pre1970 = await post('/api/import', [at('1969-07-20T20:17:00Z', 4)]);
    expect(pre1970.statusCode).toBe(400);
    expect(pre1970.json()).toMatchObject({ error: 'ts_too_old', field: 'events.0.ts' });
    expect(pre1970.json().message).toMatch(/1970/);
    // A site that limits its imports to a year refuses older events, naming the bound.
    await addSite(h.db.client, h.db.database, { site_id: SITE, import_max_age_days: 365 });
    try {
      const bounded = await post('/api/import', [at(Date.now() - 86_400_000, 5), at(y2009, 6)]);
      expect(bounded.statusCode).toBe(400);
      expect(bounded.json()).toMatchObject({ error: 'ts_too_old', field: 'events.1.ts' });
      expect(bounded.json().message).toMatch(/365 days/);
    } finally {
      await addSite(h.db.client, h.db.database, { site_id: SITE });
    }
    // Nothing of a refused request was written.
    expect(await h.produced()).toBe(before);
  });

  it('POST /api/import leaves out the events already stored (a second run of an import)', async () => {
    const mark = marker();
    const ts = Date.UTC(2014, 6, 1, 9, 30, 0);
    const at = (n: number) => ({
      site: SITE,
      name: 'pageview',
      url: `https://example.com/${mark}/${n}`,
      ts: ts + n * 1000,
      ip: GB_IP,
      user_agent: CHROME_UA,
      event_id: `${mark}-${n}`,
      props: { mark },
    });
    // Event 1 was stored by an earlier run (the sessionizer wrote it); 2 and 3 were not.
    await insertRows(h.db.client, `${h.db.database}.events_raw`, [
      { site_id: SITE, event_id: `${mark}-1`, ts: toDateTime(ts + 1000), ts_ms: ts + 1000 },
    ]);
    const before = await h.produced();
    const res = await h.app.inject({
      method: 'POST',
      url: '/api/import',
      headers: auth(),
      payload: { site: SITE, events: [at(1), at(2), at(3)] },
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: 2, dropped: 0, already_stored: 1 });
    const hits = await received(mark, 2);
    expect(hits.map((r) => r.event.event_id).sort()).toEqual([`${mark}-2`, `${mark}-3`]);
    expect(await h.produced()).toBe(before + 2);
  });

  it('refuses a missing, malformed or foreign token with 401', async () => {
    const payload = {
      site: SITE,
      events: [{ site: SITE, name: 'pageview', url: 'https://example.com/', ip: GB_IP }],
    };
    const before = await h.produced();
    for (const authorization of [undefined, 'Bearer nope', `Bearer ${h.token}x`]) {
      const res = await h.app.inject({
        method: 'POST',
        url: '/api/events',
        headers: authorization ? { ...headers, authorization } : headers,
        payload,
      });
      expect(res.statusCode).toBe(401);
      expect(res.json().error).toBe('unauthorized');
    }
    expect(await h.produced()).toBe(before);
  });
});

describe('bad input', () => {
  const ok = { site: SITE, name: 'pageview', url: 'https://example.com/' };
  const big = (n: number) => 'x'.repeat(n);
  const manyProps = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
  const now = Date.now();

  const single: [string, string, number, string, string | undefined][] = [
    ['malformed JSON', '{"site": "example.com",', 400, 'invalid_json', undefined],
    ['an empty body', '', 400, 'invalid_json', undefined],
    ['a JSON array', '[]', 400, 'invalid_field', undefined],
    [
      'a prototype-poisoning key',
      `{"site":"${SITE}","name":"x","url":"https://example.com/","__proto__":{"a":1}}`,
      400,
      'invalid_json',
      undefined,
    ],
    ['a number where a string belongs', JSON.stringify({ ...ok, name: 42 }), 400, 'invalid_field', 'name'],
    [
      'a string where a number belongs',
      JSON.stringify({ ...ok, engaged_ms: '10' }),
      400,
      'invalid_field',
      'engaged_ms',
    ],
    ['an unknown field', JSON.stringify({ ...ok, ip: '1.2.3.4' }), 400, 'invalid_field', undefined],
    [
      'a missing site',
      JSON.stringify({ name: 'pageview', url: 'https://example.com/' }),
      400,
      'invalid_field',
      'site',
    ],
    ['an unknown site', JSON.stringify({ ...ok, site: 'unknown.example' }), 400, 'unknown_site', 'site'],
    [
      'an injection-looking site',
      JSON.stringify({ ...ok, site: "example.com'; DROP TABLE sites; --" }),
      400,
      'invalid_field',
      'site',
    ],
    ['a javascript: URL', JSON.stringify({ ...ok, url: 'javascript:alert(1)' }), 400, 'invalid_field', 'url'],
    [
      'an oversized URL',
      JSON.stringify({ ...ok, url: `https://example.com/${big(LIMITS.url)}` }),
      400,
      'invalid_field',
      'url',
    ],
    [
      'an oversized referrer',
      JSON.stringify({ ...ok, referrer: big(LIMITS.referrer + 1) }),
      400,
      'invalid_field',
      'referrer',
    ],
    [
      'a control character in the name',
      JSON.stringify({ ...ok, name: 'a\u0000b' }),
      400,
      'invalid_field',
      'name',
    ],
    [
      'too many props',
      JSON.stringify({ ...ok, props: manyProps(LIMITS.props + 1) }),
      400,
      'invalid_field',
      'props',
    ],
    ['a huge prop map', JSON.stringify({ ...ok, props: manyProps(3000) }), 400, 'invalid_field', 'props'],
    [
      'an oversized prop value',
      JSON.stringify({ ...ok, props: { a: big(LIMITS.propValue + 1) } }),
      400,
      'invalid_field',
      'props.a',
    ],
    [
      'a nested prop value',
      JSON.stringify({ ...ok, props: { a: { b: 1 } } }),
      400,
      'invalid_field',
      'props.a',
    ],
    [
      'an unpaired surrogate',
      `{"site":"${SITE}","name":"pageview","url":"https://example.com/","props":{"a":"\\ud800x"}}`,
      400,
      'invalid_unicode',
      'props.a',
    ],
    [
      'an oversized body',
      JSON.stringify({ ...ok, props: { a: big(LIMITS.bodyBytes) } }),
      413,
      'body_too_large',
      undefined,
    ],
  ];

  it.each(single)('POST /api/event with %s → %i %s', async (_what, payload, status, error, field) => {
    const before = await h.produced();
    const res = await h.app.inject({ method: 'POST', url: '/api/event', headers, payload });
    expect(res.statusCode).toBe(status);
    const body = res.json();
    expect(body.error).toBe(error);
    expect(typeof body.message).toBe('string');
    if (field !== undefined) expect(body.field).toBe(field);
    expect(await h.produced()).toBe(before);
  });

  const event = { ...ok, ip: GB_IP };
  const batch: [string, unknown, number, string, string][] = [
    [
      'more than 1000 events',
      { site: SITE, events: Array.from({ length: 1001 }, () => event) },
      400,
      'invalid_field',
      'events',
    ],
    [
      'an invalid event among valid ones',
      { site: SITE, events: [event, { ...event, url: 'nope' }] },
      400,
      'invalid_field',
      'events.1.url',
    ],
    [
      'an event of another site',
      { site: SITE, events: [event, { ...event, site: 'other.example' }] },
      400,
      'invalid_field',
      'events.1.site',
    ],
    [
      'a ts in the future',
      { site: SITE, events: [{ ...event, ts: now + 3_600_000 }] },
      400,
      'ts_in_future',
      'events.0.ts',
    ],
    [
      'a ts older than the limit',
      { site: SITE, events: [{ ...event, ts: now - 800 * 86_400_000 }] },
      400,
      'ts_too_old',
      'events.0.ts',
    ],
    [
      'a malformed ts',
      { site: SITE, events: [{ ...event, ts: 'yesterday' }] },
      400,
      'invalid_field',
      'events.0.ts',
    ],
    [
      'a malformed ip',
      { site: SITE, events: [{ ...event, ip: '999.1.1.1' }] },
      400,
      'invalid_field',
      'events.0.ip',
    ],
    ['neither ip nor visitor id', { site: SITE, events: [ok] }, 400, 'invalid_field', 'events.0.ip'],
  ];

  it.each(batch)(
    'POST /api/events with %s → %i %s, nothing stored',
    async (_what, payload, status, error, field) => {
      const before = await h.produced();
      const res = await h.app.inject({
        method: 'POST',
        url: '/api/events',
        headers: { ...headers, authorization: `Bearer ${h.token}` },
        payload: payload as object,
      });
      expect(res.statusCode).toBe(status);
      expect(res.json()).toMatchObject({ error, field });
      expect(await h.produced()).toBe(before);
    },
  );

  it('GET /e.gif without a page URL or with an unknown site is refused', async () => {
    const a = await h.app.inject({
      method: 'GET',
      url: `/e.gif?site=${SITE}`,
      headers: { 'user-agent': CHROME_UA },
    });
    expect(a.statusCode).toBe(400);
    expect(a.json().field).toBe('url');
    const b = await h.app.inject({
      method: 'GET',
      url: '/e.gif?site=nope.example&url=https%3A%2F%2Fnope.example%2F',
      headers: { 'user-agent': CHROME_UA },
    });
    expect(b.json()).toMatchObject({ error: 'unknown_site', field: 'site' });
  });

  it('keeps serving after all of it', async () => {
    const res = await h.app.inject({ method: 'POST', url: '/api/event', headers, payload: ok });
    expect(res.statusCode).toBe(202);
    const metrics = await h.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/stint_collector_rejects_total\{reason="invalid_field"\} [1-9]/);
  });
});

describe('the rest of the surface', () => {
  it('limits requests per IP with 429', async () => {
    const app = await h.buildApp({ config: { rateLimitPerMinute: 2 } });
    const post = (ip: string) =>
      app.inject({
        method: 'POST',
        url: '/api/event',
        headers,
        remoteAddress: ip,
        payload: { site: SITE, name: 'x', url: 'https://example.com/' },
      });
    expect((await post('10.0.0.1')).statusCode).toBe(202);
    expect((await post('10.0.0.1')).statusCode).toBe(202);
    const limited = await post('10.0.0.1');
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error).toBe('rate_limited');
    expect((await post('10.0.0.2')).statusCode).toBe(202);
  });

  it('answers CORS preflights for any origin', async () => {
    const res = await h.app.inject({
      method: 'OPTIONS',
      url: '/api/event',
      headers: {
        origin: 'https://example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('https://example.com');
  });

  it('serves the snippet gzipped with an ETag, and 503 while it cannot be built', async () => {
    const js = Buffer.from('(function(){})();');
    const app = await h.buildApp({ snippet: async () => js });
    const res = await app.inject({ method: 'GET', url: '/stint.js', headers: { 'accept-encoding': 'gzip' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('javascript');
    expect(res.headers['content-encoding']).toBe('gzip');
    const again = await app.inject({
      method: 'GET',
      url: '/stint.js',
      headers: { 'if-none-match': String(res.headers.etag) },
    });
    expect(again.statusCode).toBe(304);

    const broken = await h.buildApp({
      snippet: async () => {
        throw new Error('collector/snippet/build.ts is missing');
      },
    });
    const down = await broken.inject({ method: 'GET', url: '/stint.js' });
    expect(down.statusCode).toBe(503);
    expect(down.json().message).toContain('build.ts');
  });

  it('reports health, readiness and Prometheus metrics', async () => {
    expect((await h.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const ready = await h.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    const metrics = await h.app.inject({ method: 'GET', url: '/metrics' });
    for (const name of [
      'stint_collector_requests_total',
      'stint_collector_rejects_total',
      'stint_collector_kafka_send_seconds',
      'stint_collector_buffer_events',
    ]) {
      expect(metrics.body).toContain(name);
    }
  });
});

describe('stint import-logs', () => {
  const MONTHS = 'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split(' ');
  const logTime = (ms: number) => {
    const d = new Date(ms);
    const p = (n: number) => String(n).padStart(2, '0');
    return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
  };

  it('sends the page views of a gzipped access log with their original time, IP and user agent', async () => {
    const app = await h.buildApp();
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const mark = marker();
    const base = Math.floor((Date.now() - 86_400_000) / 1000) * 1000;
    const hit = (offsetS: number, req: string, status = 200, ua = CHROME_UA) =>
      `${GB_IP} - - [${logTime(base + offsetS * 1000)}] "${req}" ${status} 512 "https://www.google.com/" "${ua}"`;
    const lines = [
      hit(0, `GET /${mark}/a HTTP/1.1`),
      hit(1, `GET /${mark}/style.css HTTP/1.1`),
      hit(2, `GET /${mark}/b?x=1 HTTP/1.1`, 304),
      hit(3, `POST /${mark}/form HTTP/1.1`),
      hit(4, `GET /${mark}/missing HTTP/1.1`, 404),
      hit(5, `GET /${mark}/c HTTP/1.1`, 200, 'Googlebot/2.1 (+http://www.google.com/bot.html)'),
      'not a log line',
      // Years old: taken (imports have no lower bound by default).
      `${GB_IP} - - [${logTime(Date.UTC(2009, 4, 1, 12))}] "GET /${mark}/ancient HTTP/1.1" 200 1 "-" "${CHROME_UA}"`,
      // From the future: refused by the collector, counted by reason, the rest still goes in.
      `${GB_IP} - - [${logTime(Date.now() + 7_200_000)}] "GET /${mark}/future HTTP/1.1" 200 1 "-" "${CHROME_UA}"`,
      hit(-30, `GET /${mark}/d HTTP/1.1`),
    ];
    const file = join(mkdtempSync(join(tmpdir(), 'stint-import-')), 'access.log.gz');
    writeFileSync(file, gzipSync(`${lines.join('\n')}\n`));

    const opts = {
      file,
      format: lineFormat({ format: 'combined' }),
      routing: { site: SITE },
      token: h.token,
      collector: address,
      batchSize: 2,
    };
    const dry = await importLogs({ ...opts, dryRun: true });
    expect(dry).toMatchObject({ lines: 10, pageViews: 5, sent: 0, perSite: { [SITE]: 5 } });
    const stats = await importLogs(opts);
    expect(stats).toMatchObject({ lines: 10, pageViews: 5, sent: 4, rejected: 1, unparsed: 1 });
    expect(stats.skipped).toMatchObject({ static: 1, not_get: 1, status: 1, bot: 1, other_host: 0 });
    expect(stats.unparsedBy).toEqual({ no_match: { count: 1, line: 7, text: 'not a log line' } });
    expect(stats.rejectedBy.ts_in_future).toMatchObject({ count: 1, line: 9 });

    const hits = await waitFor(() => {
      const found = h.received.filter((r) => r.event.path.startsWith(`/${mark}/`));
      return found.length >= 4 ? found : undefined;
    });
    const byPath = Object.fromEntries(hits.map((r) => [r.event.path, r.event]));
    expect(Object.keys(byPath).sort()).toEqual([
      `/${mark}/a`,
      `/${mark}/ancient`,
      `/${mark}/b`,
      `/${mark}/d`,
    ]);
    expect(byPath[`/${mark}/a`]).toMatchObject({
      ts: base,
      country: 'GB',
      browser: 'Chrome',
      source: 'google',
    });
    expect(byPath[`/${mark}/d`]?.ts).toBe(base - 30_000);
    expect(byPath[`/${mark}/ancient`]?.ts).toBe(Date.UTC(2009, 4, 1, 12));
    expect(byPath[`/${mark}/a`]?.visitor_id).toBe(
      historicalIds(h.salts.secret, base, SITE, GB_IP, CHROME_UA).visitor_id,
    );
    await app.close();
  });
});

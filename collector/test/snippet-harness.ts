/**
 * Two tiny node:http servers for the browser tests of the snippet:
 *  - a fixture marketing site (collector/snippet/fixtures) under /s/<site>/..., where <!--STINT--> in
 *    a page becomes the script tag with the attributes registered for that site;
 *  - a recording stand-in for the collector that serves the built stint.js and keeps every POST body.
 * The real collector is tested on its own; here the thing under test is the browser code.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserEvent, BrowserEventSchema } from '../src/contract/event.ts';

const FIXTURES = fileURLToPath(new URL('../snippet/fixtures/', import.meta.url));

export interface Received {
  path: string;
  method: string;
  contentType: string;
  body: string;
  /** The parsed event, or the validation error when the body does not match the contract. */
  event?: BrowserEvent;
  error?: string;
}

export interface Harness {
  /** Base URL of the recording collector (serves /stint.js). */
  collectorOrigin: string;
  received: Received[];
  /** Registers a fresh site with the given snippet attributes; returns its name. */
  site(attrs?: string): string;
  /** URL of a fixture page for a site, e.g. page(site, 'about.html'). */
  page(site: string, path?: string): string;
  /** Every event received for a site, in arrival order. */
  events(site: string): BrowserEvent[];
  close(): Promise<void>;
}

const MIME: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  // The "PDF" is served as text so that following the download link is an ordinary navigation.
  pdf: 'text/plain; charset=utf-8',
};

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startHarness(snippet: Buffer): Promise<Harness> {
  const received: Received[] = [];
  const sites = new Map<string, string>();
  let counter = 0;

  const collector = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'GET' && path === '/stint.js') {
      res.writeHead(200, { 'content-type': MIME.js, 'cache-control': 'no-cache' }).end(snippet);
      return;
    }
    if (req.method === 'GET' && path === '/elsewhere') {
      res
        .writeHead(200, { 'content-type': MIME.html })
        .end('<!doctype html><title>Partner</title><p>Elsewhere');
      return;
    }
    if (path.endsWith('/api/event')) {
      readBody(req).then(
        (body) => {
          const entry: Received = {
            path,
            method: req.method ?? '',
            contentType: req.headers['content-type'] ?? '',
            body,
          };
          if (req.method === 'POST') {
            try {
              const parsed = BrowserEventSchema.safeParse(JSON.parse(body));
              if (parsed.success) entry.event = parsed.data;
              else entry.error = parsed.error.message;
            } catch (err) {
              entry.error = `not JSON: ${String(err)}`;
            }
          }
          received.push(entry);
          res.writeHead(req.method === 'OPTIONS' ? 204 : 202, { 'access-control-allow-origin': '*' }).end();
        },
        () => res.writeHead(400).end(),
      );
      return;
    }
    res.writeHead(404).end();
  });

  let collectorOrigin = '';
  const siteServer = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fixture');
    const match = /^\/s\/([a-z0-9.-]+)\/(.*)$/.exec(url.pathname);
    const site = match?.[1];
    const attrs = site === undefined ? undefined : sites.get(site);
    if (!match || site === undefined || attrs === undefined) {
      res.writeHead(404).end();
      return;
    }
    let file = match[2] || 'index.html';
    // The SPA answers every path under app/, like a client-side router's server fallback.
    if (file === 'app' || file.startsWith('app/')) file = 'spa.html';
    if (file.startsWith('files/')) {
      res.writeHead(200, { 'content-type': MIME.pdf }).end('%PDF-1.4 fixture brochure');
      return;
    }
    if (!/^[a-z-]+\.(html|js)$/.test(file)) {
      res.writeHead(404).end();
      return;
    }
    readFile(join(FIXTURES, file), 'utf8').then(
      (text) => {
        const tag = `<script defer data-site="${site}" ${attrs} src="${collectorOrigin}/stint.js"></script>`;
        const body = text
          .replace('<!--STINT-->', tag)
          .replaceAll('__OUTBOUND__', `${collectorOrigin.replace('127.0.0.1', 'localhost')}/elsewhere`);
        res.writeHead(200, { 'content-type': MIME[file.split('.').pop() ?? ''] ?? 'text/plain' }).end(body);
      },
      () => res.writeHead(404).end(),
    );
  });

  collectorOrigin = await listen(collector);
  const siteOrigin = await listen(siteServer);

  return {
    collectorOrigin,
    received,
    site(attrs = 'data-allow-localhost') {
      counter += 1;
      const name = `site${counter}.test`;
      sites.set(name, attrs);
      return name;
    },
    page(site, path = '') {
      return `${siteOrigin}/s/${site}/${path}`;
    },
    events(site) {
      return received.flatMap((r) => (r.event && r.event.site === site ? [r.event] : []));
    },
    async close() {
      collector.closeAllConnections();
      siteServer.closeAllConnections();
      await Promise.all([new Promise((r) => collector.close(r)), new Promise((r) => siteServer.close(r))]);
    },
  };
}

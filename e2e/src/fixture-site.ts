/**
 * The fixture marketing site (e2e/fixtures/site) on a random port, the way a customer hosts it: every
 * page carries the one-line snippet tag pointing at the real collector. `/app/...` is an SPA whose
 * server answers every route with the same page.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

const SITE_DIR = fileURLToPath(new URL('../fixtures/site/', import.meta.url));

export interface FixtureSite {
  origin: string;
  url(path: string): string;
  close(): Promise<void>;
}

export async function startFixtureSite(options: { site: string; collector: string }): Promise<FixtureSite> {
  const tag =
    `<script defer data-site="${options.site}" data-api="${options.collector}" data-allow-localhost ` +
    `src="${options.collector}/stint.js"></script>`;
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://fixture').pathname;
    const file =
      path === '/' ? 'index.html' : path === '/app' || path.startsWith('/app/') ? 'app.html' : path.slice(1);
    if (!/^[a-z-]+\.html$/.test(file)) {
      res.writeHead(404).end();
      return;
    }
    readFile(`${SITE_DIR}${file}`, 'utf8').then(
      (html) => {
        res
          .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
          .end(html.replace('<!--STINT-->', tag));
      },
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: (path) => `${origin}${path}`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

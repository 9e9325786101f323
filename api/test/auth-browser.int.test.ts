/**
 * Sign-in in real Chromium against the real api: sign-in → HttpOnly cookie set (invisible to page
 * scripts) → an /api/v1 report works with the cookie alone → a cross-site page's forged logout does
 * nothing → logout → the report is refused.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase, waitFor } from '@stint/infra/testing';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Instance, PASSWORD, SITE_A, seed, startApi } from './auth-helpers.ts';

let db: TestDatabase;
let api: Instance;
let browser: Browser;
let evil: Server;
let evilBase = '';

beforeAll(async () => {
  db = await createTestDatabase('auth_browser');
  await seed(db);
  const root = mkdtempSync(join(tmpdir(), 'stint-auth-'));
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>stint</title><p>dashboard stand-in</p>');
  api = await startApi(db, {}, root);
  // Another site (localhost is not the same site as 127.0.0.1) whose page posts a logout form to the api.
  evil = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><form id=f method=post action="${api.base}/auth/logout"></form>
      <script>document.getElementById('f').submit()</script>`);
  });
  await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
  const addr = evil.address();
  evilBase = `http://localhost:${typeof addr === 'object' && addr ? addr.port : 0}`;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => evil?.close(r));
  await api?.close();
  await db?.drop();
});

describe('sign-in in Chromium', () => {
  it('sign-in sets an HttpOnly cookie, a report works with it, a cross-site logout fails, logout ends it', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${api.base}/`);
    const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
      page.evaluate(
        async ({ method, path, body, headers }) => {
          const res = await fetch(path, {
            method,
            headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
            ...(body ? { body: JSON.stringify(body) } : {}),
          });
          const text = await res.text();
          return { status: res.status, body: text ? JSON.parse(text) : null };
        },
        { method, path, body, headers },
      );
    const report = `/api/v1/sites/${SITE_A}/summary?from=2029-12-01&to=2029-12-31`;
    expect((await call('GET', report)).status).toBe(401);

    const login = await call('POST', '/auth/login', { email: 'viewer@example.com', password: PASSWORD });
    expect(login.status).toBe(200);
    const cookies = await context.cookies(api.base);
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({
      name: 'stint_session',
      httpOnly: true,
      sameSite: 'Strict',
      path: '/',
      secure: false,
    });
    expect(await page.evaluate(() => document.cookie)).not.toContain('stint_session');
    expect((await call('GET', report)).status).toBe(200);

    const attack = await context.newPage();
    await attack.goto(evilBase);
    await waitFor(() => attack.url().startsWith(api.base), { message: 'the forged form was posted' });
    expect((await call('GET', report)).status, 'still signed in after the forged logout').toBe(200);

    const logout = await call('POST', '/auth/logout', undefined, { 'x-stint-csrf': login.body.csrf_token });
    expect(logout.status).toBe(204);
    expect(await context.cookies(api.base)).toHaveLength(0);
    expect((await call('GET', report)).status).toBe(401);
    await context.close();
  });
});

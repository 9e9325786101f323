/** `stint users …` through the real CLI (infra/bin/stint.js) against a test database. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { addSite } from '@stint/infra/registry';
import { createTestDatabase, type TestDatabase } from '@stint/infra/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, type Instance, startApi } from './auth-helpers.ts';

const STINT = fileURLToPath(new URL('../../infra/bin/stint.js', import.meta.url));
let db: TestDatabase;
let api: Instance;

const stint = async (args: string[], password?: string) => {
  const env = { ...process.env, CLICKHOUSE_DATABASE: db.database, STINT_PASSWORD: password ?? '' };
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [STINT, 'users', ...args], { env });
  return { stdout, stderr };
};

beforeAll(async () => {
  db = await createTestDatabase('auth_cli');
  await addSite(db.client, db.database, { site_id: 'a.example', timezone: 'UTC' });
  api = await startApi(db, {});
});
afterAll(async () => {
  await api?.close();
  await db?.drop();
});

describe('stint users', () => {
  it('adds an account, grants a site, lists and revokes its sessions, changes its password, removes it', async () => {
    await expect(stint(['add', 'cli@example.com'], 'password123')).rejects.toThrow(/common/);
    await stint(['add', 'cli@example.com'], 'a fine passphrase');
    await stint(['grant', 'cli@example.com', '--site', 'a.example', '--role', 'viewer']);
    const c = new Client(api.base);
    expect(
      (await c.login('cli@example.com', 'a fine passphrase', { 'user-agent': 'CliTest/1' })).status,
    ).toBe(200);
    expect((await c.summary('a.example')).status).toBe(200);

    const listed = (await stint(['sessions', 'cli@example.com'])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ user_agent: 'CliTest/1', ip_prefix: '198.51.100.0/24' });
    expect(JSON.stringify(listed)).not.toContain((c.cookie ?? '').split('=')[1]);
    await stint(['sessions', 'cli@example.com', '--revoke']);
    expect((await c.summary('a.example')).status).toBe(401);

    await c.login('cli@example.com', 'a fine passphrase');
    await stint(['passwd', 'cli@example.com'], 'an even finer passphrase');
    expect((await c.summary('a.example')).status).toBe(401);
    expect((await c.login('cli@example.com', 'an even finer passphrase')).status).toBe(200);

    const audit = (await stint(['audit', '--email', 'cli@example.com'])).stdout;
    expect(audit).toContain('"kind":"password_changed"');
    expect(audit).toContain('"kind":"sessions_revoked"');
    expect(audit).not.toContain('finer passphrase');

    await stint(['remove', 'cli@example.com']);
    expect((await c.summary('a.example')).status).toBe(401);
    expect((await c.login('cli@example.com', 'an even finer passphrase')).status).toBe(401);
  });
});

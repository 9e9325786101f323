/**
 * `stint users …`: dashboard accounts (loaded by the root CLI, infra/src/cli/main.ts).
 * Passwords come from a hidden prompt, or from STINT_PASSWORD for scripts; they are never echoed,
 * logged or accepted as an argument (which would land in shell history and `ps`).
 */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { clickhouseDatabase, createClickHouse } from '@stint/infra/clickhouse';
import type { Command } from 'commander';
import { durationMs } from './auth/config.ts';
import {
  type AuthDb,
  clickHouseAuthDb,
  grantsOf,
  listAudit,
  listUsers,
  ROLES,
  type Role,
} from './auth/store.ts';
import * as users from './auth/users.ts';

async function withDb<T>(fn: (db: AuthDb) => Promise<T>): Promise<T> {
  const database = clickhouseDatabase();
  const client = createClickHouse({ database });
  try {
    return await fn(clickHouseAuthDb(client, database));
  } finally {
    await client.close();
  }
}

function ask(question: string): Promise<string> {
  let muted = false;
  const out = new Writable({
    write(chunk, _enc, cb) {
      if (!muted) process.stderr.write(chunk);
      cb();
    },
  });
  const rl = createInterface({ input: process.stdin, output: out, terminal: true });
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
    muted = true;
  });
}

async function readPassword(): Promise<string> {
  const fromEnv = process.env.STINT_PASSWORD;
  if (fromEnv) return fromEnv;
  if (!process.stdin.isTTY) throw new Error('no terminal to ask for the password: set STINT_PASSWORD');
  const first = await ask('password: ');
  const second = await ask('again: ');
  if (first !== second) throw new Error('the two passwords differ');
  return first;
}

const line = (v: unknown) => process.stdout.write(`${JSON.stringify(v)}\n`);

export function register(program: Command): void {
  const cmd = program.command('users').description('dashboard accounts, their sites and sign-in sessions');

  cmd
    .command('add <email>')
    .description('add an account (password from a prompt or STINT_PASSWORD)')
    .option('--admin', 'may read every site and see the audit log', false)
    .action(async (email: string, o: { admin: boolean }) => {
      const password = await readPassword();
      const u = await withDb((db) => users.addUser(db, { email, password, admin: o.admin }));
      process.stderr.write(`added ${u.email}${u.is_admin ? ' (admin)' : ''}\n`);
    });

  cmd
    .command('grant <email>')
    .description('give an account a role on a site (a privilege change: its sessions get new ids)')
    .requiredOption('--site <site>', 'site id')
    .requiredOption('--role <role>', `${ROLES.join(' | ')} | none (takes the site away)`)
    .action(async (email: string, o: { site: string; role: string }) => {
      const role = o.role === 'none' ? null : (o.role as Role);
      if (role !== null && !ROLES.includes(role))
        throw new Error(`--role must be ${ROLES.join(', ')} or none`);
      await withDb((db) => users.grantSite(db, email, o.site, role));
      process.stderr.write(`${email}: ${o.site} ${o.role}\n`);
    });

  cmd
    .command('admin <email>')
    .description('make an account admin, or with --off take it away')
    .option('--off', 'remove admin rights', false)
    .action(async (email: string, o: { off: boolean }) => {
      await withDb((db) => users.setAdmin(db, email, !o.off));
      process.stderr.write(`${email}: ${o.off ? 'not admin' : 'admin'}\n`);
    });

  cmd
    .command('passwd <email>')
    .description('set a new password (ends every session of the account)')
    .action(async (email: string) => {
      const password = await readPassword();
      const r = await withDb((db) => users.setPassword(db, email, password));
      process.stderr.write(`password changed; ${r.sessionsEnded} sessions ended\n`);
    });

  cmd
    .command('remove <email>')
    .description('remove an account (ends its sessions)')
    .action(async (email: string) => {
      const r = await withDb((db) => users.removeUser(db, email));
      process.stderr.write(`removed ${email}; ${r.sessionsEnded} sessions ended\n`);
    });

  cmd
    .command('list')
    .description('list accounts and their sites')
    .action(async () => {
      await withDb(async (db) => {
        for (const u of await listUsers(db)) {
          line({
            email: u.email,
            admin: u.is_admin,
            created_at: u.created_at,
            sites: await grantsOf(db, u.user_id),
          });
        }
      });
    });

  cmd
    .command('sessions <email>')
    .description('list the active sign-in sessions of an account; --revoke ends them all')
    .option('--revoke', 'end every session of the account', false)
    .action(async (email: string, o: { revoke: boolean }) => {
      await withDb(async (db) => {
        const list = await users.userSessions(db, email, {
          now: Date.now(),
          idleTimeoutMs: durationMs(process.env.AUTH_IDLE_TIMEOUT ?? '30m'),
          absoluteTimeoutMs: durationMs(process.env.AUTH_ABSOLUTE_TIMEOUT ?? '12h'),
        });
        for (const s of list) line(s);
        if (o.revoke) {
          const n = await users.revokeUserSessions(db, email);
          process.stderr.write(`${n} sessions ended\n`);
        } else if (list.length === 0) process.stderr.write('no active sessions\n');
      });
    });

  cmd
    .command('audit')
    .description('sign-in events and unusual-activity signals, newest first')
    .option('--signals', 'only the unusual-activity signals', false)
    .option('--email <email>', 'only this account')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (o: { signals: boolean; email?: string; limit: string }) => {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new Error('--limit must be a positive integer');
      const events = await withDb((db) =>
        listAudit(db, {
          signalsOnly: o.signals,
          limit,
          ...(o.email ? { email: o.email.trim().toLowerCase() } : {}),
        }),
      );
      for (const { ip_hash: _h, at_ms, ...e } of events) line({ at: new Date(at_ms).toISOString(), ...e });
    });
}

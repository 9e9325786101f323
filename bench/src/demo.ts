/**
 * Demo traffic (`npm start -- --demo`, or `npx tsx bench/src/demo.ts`): registers the demo sites,
 * backfills two weeks of realistic visits through the real collector (so the dashboard is populated
 * within a minute), then keeps sending live visits at `--rate` events per second until stopped.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { clickHouseAuthDb, users } from '@stint/api/auth';
import { clickhouseDatabase, createClickHouse } from '@stint/infra/clickhouse';
import { addSite, createToken } from '@stint/infra/registry';
import { Random } from '@stint/infra/testing';
import { sendAll } from './send.ts';
import { DEMO_SITES, makeHistory, makeVisit, makeVisitor } from './visits.ts';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '50' },
    visitors: { type: 'string', default: '2000' },
    days: { type: 'string', default: '14' },
    seed: { type: 'string', default: '42' },
    'no-live': { type: 'boolean', default: false },
    collector: { type: 'string', default: process.env.COLLECTOR_URL || 'http://127.0.0.1:8301' },
  },
});

const say = (m: string) => process.stderr.write(`demo: ${m}\n`);

async function waitForCollector(url: string): Promise<void> {
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`collector at ${url} did not become ready`);
}

async function main(): Promise<void> {
  const database = clickhouseDatabase();
  const client = createClickHouse({ database });
  for (const site of DEMO_SITES)
    await addSite(client, database, { site_id: site, timezone: 'Europe/Berlin' });
  const token = await createToken(client, database, { site: '*', scope: 'ingest', label: 'demo traffic' });
  const read = await createToken(client, database, { site: '*', scope: 'read', label: 'demo dashboard' });
  // A demo account so the dashboard can be opened straight away (an admin reads every site).
  const adb = clickHouseAuthDb(client, database);
  const email = 'demo@stint.local';
  const password = randomBytes(12).toString('base64url');
  try {
    await users.addUser(adb, { email, password, admin: true });
  } catch {
    await users.setPassword(adb, email, password);
  }
  say(`sites ${DEMO_SITES.join(', ')} registered`);
  await client.close();
  say(`dashboard sign-in: ${email} / ${password}   (or the read token for all sites: ${read.secret})`);

  const collector = values.collector;
  await waitForCollector(collector);
  const history = makeHistory({
    seed: Number(values.seed),
    visitors: Number(values.visitors),
    days: Number(values.days),
    now: Date.now(),
  });
  const started = Date.now();
  await sendAll(
    collector,
    () => token.secret,
    history,
    500,
    (sent) => {
      process.stderr.write(
        `\rdemo: backfill ${sent}/${history.length} events (${Math.round((sent / history.length) * 100)}%)`,
      );
    },
  );
  process.stderr.write('\n');
  say(`backfilled ${history.length} events in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (values['no-live']) return;

  const rate = Number(values.rate);
  const rng = new Random(Number(values.seed) + 1);
  let sent = 0;
  const liveStart = Date.now();
  say(`sending live visits at about ${rate} events/s (Ctrl-C stops)`);
  let stop = false;
  process.once('SIGTERM', () => {
    stop = true;
  });
  process.once('SIGINT', () => {
    stop = true;
  });
  while (!stop) {
    const v = makeVisitor(rng);
    // A live visit is sent as it happens: its events' times are spread from now onwards.
    const events = makeVisit(rng, v, Date.now(), rng.chance(0.3)).map((e) => ({
      ...e,
      ts: Math.min(Number(e.ts), Date.now()),
    }));
    await sendAll(collector, () => token.secret, events);
    sent += events.length;
    const due = liveStart + (sent / rate) * 1000;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    process.stderr.write(
      `\rdemo: live ${sent} events, ${(sent / ((Date.now() - liveStart) / 1000)).toFixed(0)} events/s   `,
    );
  }
  process.stderr.write('\n');
}

main().catch((err) => {
  say(`failed: ${(err as Error).message}`);
  process.exit(1);
});

/**
 * `stint start --sessionizers 2 --collectors 2` (what `npm start` runs, with two sessionizer and two
 * collector processes): every service comes up, the two sessionizers are the two members of one
 * consumer group that share the topic's partitions, the collector's /metrics counts both of its
 * workers, and SIGTERM stops them all. Its own database, topic and group, and ports clear
 * of a developer's own `npm start`; skipped while one runs (the run file says so).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { AssignerProtocol } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alreadyRunning } from '../src/cli/start.ts';
import { createKafka, ensureTopic } from '../src/kafka/index.ts';
import { REPO_ROOT } from '../src/stack/index.ts';
import { createTestDatabase, type TestDatabase, uniqueTopic, waitFor } from '../src/testing/index.ts';

const PORTS = { api: 28400, collector: 28401, sessionizer: 28402 };
const running = alreadyRunning() !== null;

let db: TestDatabase;
let start: ChildProcess | undefined;
const topic = uniqueTopic('start');
const group = `test-start-${Date.now()}`;
const kafka = createKafka({ clientId: 'start-test' });

beforeAll(async () => {
  db = await createTestDatabase('start');
  await ensureTopic(kafka, topic, 4);
});
afterAll(async () => {
  if (start && start.exitCode === null) start.kill('SIGKILL');
  await db?.drop();
});

const ready = async (port: number) => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;

describe.skipIf(running)('stint start --sessionizers 2 --collectors 2', () => {
  it('runs every service, the two sessionizers share the partitions in one group, SIGTERM stops all', async () => {
    const child = spawn(
      process.execPath,
      [`${REPO_ROOT}/infra/bin/stint.js`, 'start', '--sessionizers', '2', '--collectors', '2'],
      {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          CLICKHOUSE_DATABASE: db.database,
          EVENTS_TOPIC: topic,
          SESSIONIZER_GROUP: group,
          API_PORT: String(PORTS.api),
          COLLECTOR_PORT: String(PORTS.collector),
          SESSIONIZER_PORT: String(PORTS.sessionizer),
          LOG_LEVEL: 'warn',
        },
      },
    );
    start = child;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    // The services' own logs (JSON lines): only the warnings and errors, for a failure's message.
    let logs = '';
    child.stdout?.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (/"level":(40|50|60)/.test(line)) logs += `${line}\n`;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

    const sessionizerPorts = [PORTS.sessionizer, PORTS.sessionizer + 10];
    for (const port of [PORTS.api, PORTS.collector, ...sessionizerPorts]) {
      await waitFor(() => ready(port), {
        timeoutMs: 90_000,
        message: `service on ${port} ready`,
      }).catch((err: Error) => {
        throw new Error(`${err.message}; stint start printed:\n${stderr}\n${logs}`);
      });
    }
    expect(stderr).toContain(
      `http://127.0.0.1:${PORTS.sessionizer + 10}/metrics (2 instances, one consumer group)`,
    );

    expect(stderr).toContain('2 processes on this port, /metrics aggregated');
    // Both collector workers answer in the aggregate, whichever of them the scrape reaches.
    await waitFor(
      async () => {
        const text = await (await fetch(`http://127.0.0.1:${PORTS.collector}/metrics`)).text();
        return /^stint_collector_processes 2$/m.test(text);
      },
      { timeoutMs: 30_000, message: 'both collector workers in /metrics' },
    );

    const admin = kafka.admin();
    await admin.connect();
    try {
      const assigned = await waitFor(
        async () => {
          const { groups } = await admin.describeGroups([group]);
          const g = groups[0];
          return g?.state === 'Stable' && g.members.length === 2 ? g.members : undefined;
        },
        { timeoutMs: 30_000, message: 'a stable group of two members' },
      );
      // Each member owns some of the 4 partitions, together all of them.
      const owned = assigned.map(
        (m) => AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[topic] ?? [],
      );
      expect(owned.every((ps) => ps.length > 0)).toBe(true);
      expect(owned.flat().sort()).toEqual([0, 1, 2, 3]);
    } finally {
      await admin.disconnect();
    }

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/sessionizer 1 stopped/);
    expect(stderr).toMatch(/sessionizer 2 stopped/);
    expect(stderr).toMatch(/collector stopped/);
    for (const port of [PORTS.api, PORTS.collector, ...sessionizerPorts]) {
      await expect(fetch(`http://127.0.0.1:${port}/readyz`)).rejects.toThrow();
    }
  }, 180_000);
});

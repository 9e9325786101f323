/**
 * When the local ZooKeeper counts as ready: only once it serves clients. A server that runs but is
 * still loading its data answers `ruok` with `imok` and `srvr` with "not currently serving"; the
 * ClickHouse servers started then could not load their replicated tables and exited.
 */
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { zookeeperOk } from '../src/stack/zookeeper.ts';

let server: Server | null = null;
afterEach(() => server?.close());

/** A fake ZooKeeper that answers each four-letter word from `answers` and closes, as ZooKeeper does. */
async function fakeZooKeeper(answers: Record<string, string>): Promise<number> {
  server = createServer((socket) => {
    socket.once('data', (d) => socket.end(answers[d.toString()] ?? ''));
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', () => r()));
  return (server.address() as { port: number }).port;
}

describe('zookeeperOk', () => {
  it('is false while ZooKeeper runs but does not serve yet', async () => {
    const port = await fakeZooKeeper({
      ruok: 'imok',
      srvr: 'This ZooKeeper instance is not currently serving requests\n',
    });
    expect(await zookeeperOk(port)).toBe(false);
  });

  it('is true once it serves (srvr names its mode)', async () => {
    const port = await fakeZooKeeper({
      ruok: 'imok',
      srvr: 'Zookeeper version: 3.8.4\nLatency min/avg/max: 0/0.0/0\nZxid: 0x7e98\nMode: standalone\nNode count: 5284\n',
    });
    expect(await zookeeperOk(port)).toBe(true);
  });

  it('is false when nothing listens', async () => {
    const port = await fakeZooKeeper({});
    server?.close();
    server = null;
    expect(await zookeeperOk(port)).toBe(false);
  });
});

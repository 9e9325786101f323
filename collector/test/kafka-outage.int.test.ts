/**
 * Kafka goes away while events are posted. The shared broker must keep serving the other test files,
 * so the outage is made on this sink's own connections: its kafkajs client dials through a gate that
 * cuts every socket and refuses new ones while "down". To the producer that is exactly a dead broker.
 */
import net from 'node:net';
import { kafkaBrokers } from '@stint/infra/kafka';
import { waitFor } from '@stint/infra/testing';
import { type ISocketFactory, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaSink, type EventSink } from '../src/kafka-sink.ts';
import { CHROME_UA, type Harness, SITE, startHarness } from './harness.ts';

function createGate() {
  let up = true;
  const sockets = new Set<net.Socket>();
  const factory: ISocketFactory = ({ host, port, onConnect }) => {
    // A closed port: the connection is refused at once, as by a stopped broker.
    const socket = up ? net.connect({ host, port }, onConnect) : net.connect({ host: '127.0.0.1', port: 1 });
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    return socket;
  };
  return {
    factory,
    down() {
      up = false;
      for (const s of sockets) s.destroy();
    },
    up() {
      up = true;
    },
  };
}

let h: Harness;
let sink: EventSink;
const gate = createGate();

beforeAll(async () => {
  h = await startHarness('collector_outage', { partitions: 2 });
  const kafka = new Kafka({
    clientId: 'collector-outage-test',
    brokers: kafkaBrokers(),
    socketFactory: gate.factory,
    connectionTimeout: 1000,
    logLevel: logLevel.NOTHING,
  });
  sink = createKafkaSink({ kafka, topic: h.topic, maxBufferEvents: 40, lingerMs: 2, sendTimeoutMs: 2_000 });
  await sink.start();
});
afterAll(async () => {
  gate.up();
  await sink?.close();
  await h?.close();
});

describe('when Kafka is down', () => {
  it('answers 503 + Retry-After once the buffer is full, recovers by itself, and loses no acknowledged event', async () => {
    const app = await h.buildApp({ sink });
    const acked = new Set<number>();
    const statuses = new Map<string, number>();
    let retryAfter: string | undefined;
    let n = 0;
    const post = async () => {
      const id = n++;
      const res = await app.inject({
        method: 'POST',
        url: '/api/event',
        headers: { 'user-agent': CHROME_UA, 'content-type': 'application/json' },
        payload: { site: SITE, name: 'pageview', url: 'https://example.com/', props: { n: id } },
      });
      const key = res.statusCode === 503 ? `503 ${res.json().error}` : String(res.statusCode);
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
      if (res.statusCode === 202) acked.add(id);
      if (res.statusCode === 503) retryAfter = res.headers['retry-after'] as string | undefined;
      return res.statusCode;
    };

    // Up: everything is accepted.
    const first = await Promise.all(Array.from({ length: 30 }, post));
    expect(first.every((s) => s === 202)).toBe(true);

    // Down: the first requests wait in the buffer, the rest are turned away at once.
    gate.down();
    const during = await Promise.all(Array.from({ length: 120 }, post));
    expect(statuses.get('503 buffer_full')).toBeGreaterThan(0);
    expect(during.every((s) => s === 503 || s === 202)).toBe(true);
    expect(retryAfter).toBe('2');
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);

    // Back up: the collector recovers without help.
    gate.up();
    await waitFor(async () => (await post()) === 202, { timeoutMs: 20_000, intervalMs: 200 });
    const after = await Promise.all(Array.from({ length: 30 }, post));
    expect(after.every((s) => s === 202)).toBe(true);

    // Every acknowledged event is in Kafka.
    await waitFor(
      () => {
        const seen = new Set(h.received.map((r) => Number(r.event.props.n)));
        return [...acked].every((id) => seen.has(id));
      },
      { timeoutMs: 20_000, message: `all ${acked.size} acknowledged events in Kafka` },
    );
  });

  it('shutting down while Kafka is down gives up after one failed send per lane, failing the rest at once', async () => {
    const closingGate = createGate();
    let failedSends = 0;
    const k = new Kafka({
      clientId: 'collector-outage-close-test',
      brokers: kafkaBrokers(),
      socketFactory: closingGate.factory,
      connectionTimeout: 500,
      logLevel: logLevel.NOTHING,
    });
    const s = createKafkaSink({
      kafka: k,
      topic: h.topic,
      lanes: 1,
      maxBatchEvents: 5,
      lingerMs: 2,
      sendTimeoutMs: 1_000,
      observer: { sent: (_s, _n, ok) => void (ok ? undefined : failedSends++) },
    });
    await s.start();
    closingGate.down();
    // 20 single events: four batches of five, queued on the one lane.
    const outcomes = Array.from({ length: 20 }, (_, i) =>
      s.publish([{ key: `${SITE}:close-${i}`, value: Buffer.from(`{"n":${i}}`) }]).then(
        () => 'acknowledged',
        (err: Error) => err.name,
      ),
    );
    await s.close();
    const results = await Promise.all(outcomes);
    expect(results.every((r) => r !== 'acknowledged')).toBe(true);
    expect(failedSends).toBe(1);
    expect(s.depth()).toBe(0);
    closingGate.up();
  });
});

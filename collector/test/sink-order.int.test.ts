/**
 * The sink under concurrent load against the real Kafka: every acknowledged message is there, in
 * the order it was published per key, on the partition Kafka's default partitioner gives its key.
 */
import { randomUUID } from 'node:crypto';
import { createKafka, ensureTopic } from '@stint/infra/kafka';
import { uniqueTopic, waitFor } from '@stint/infra/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafkaSink, partitionForKey, type SinkMessage } from '../src/kafka-sink.ts';

const kafka = createKafka({ clientId: 'collector-test-sink-order' });
const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

describe('the Kafka sink', () => {
  it('keeps each key in publish order across lanes and concurrent requests, on the default partitioner’s partition', async () => {
    const topic = uniqueTopic('sink-order');
    const partitions = 4;
    await ensureTopic(kafka, topic, partitions);
    // 3 lanes for 4 partitions: lanes own unequal partition sets; small sends force many of them.
    const sink = createKafkaSink({ kafka, topic, lanes: 3, maxBatchEvents: 25 });
    await sink.start();
    cleanup.push(() => sink.close());

    const keys = Array.from({ length: 30 }, (_, i) => `order.example|visitor-${i}`);
    const next = new Map<string, number>();
    const published: Promise<void>[] = [];
    // 400 "requests" of 1–5 messages each, none awaited before the next is published.
    for (let r = 0; r < 400; r++) {
      const messages: SinkMessage[] = [];
      for (let j = 0; j <= r % 5; j++) {
        const key = keys[(r * 7 + j * 13) % keys.length] as string;
        const seq = next.get(key) ?? 0;
        next.set(key, seq + 1);
        messages.push({ key, value: Buffer.from(JSON.stringify({ key, seq })) });
      }
      // A cookieless visitor's explicit partition is kept as given.
      if (r % 50 === 0) messages.push({ key: `cookieless|${r}`, value: Buffer.from('{}'), partition: 1 });
      published.push(sink.publish(messages));
      if (r % 40 === 0) await new Promise((res) => setImmediate(res));
    }
    await Promise.all(published);
    const total = [...next.values()].reduce((a, b) => a + b, 0) + 8;

    const seen: { key: string; seq?: number; partition: number }[] = [];
    const consumer = kafka.consumer({ groupId: `sink-order-${randomUUID()}` });
    cleanup.push(() => consumer.disconnect());
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        const key = message.key?.toString() ?? '';
        const value = JSON.parse(message.value?.toString() ?? '{}') as { seq?: number };
        seen.push({ key, partition, ...(value.seq !== undefined ? { seq: value.seq } : {}) });
      },
    });
    await waitFor(() => seen.length >= total, { timeoutMs: 30_000, message: 'all messages consumed' });

    expect(seen.length).toBe(total);
    for (const key of keys) {
      const mine = seen.filter((m) => m.key === key);
      expect(mine.map((m) => m.seq)).toEqual(Array.from({ length: next.get(key) ?? 0 }, (_, i) => i));
      expect(new Set(mine.map((m) => m.partition))).toEqual(new Set([partitionForKey(key, partitions)]));
    }
    expect(seen.filter((m) => m.key.startsWith('cookieless|')).every((m) => m.partition === 1)).toBe(true);
    expect(sink.depth()).toBe(0);
  });
});

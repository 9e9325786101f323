import type { Consumer, EachMessagePayload } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafka, ensureTopic } from '../src/kafka/index.ts';
import { uniqueTopic, waitFor } from '../src/testing/index.ts';

// Proves kafkajs 2.2 works against the local Kafka 4.x broker (KRaft): produce, consume in a group,
// commit, resume after the commit, and a rebalance between two consumers.
const kafka = createKafka({ clientId: 'stint-infra-test' });
const consumers: Consumer[] = [];
afterAll(async () => {
  await Promise.all(consumers.map((c) => c.disconnect().catch(() => {})));
});

async function consume(
  topic: string,
  groupId: string,
  seen: string[],
  partitions?: Set<number>,
): Promise<Consumer> {
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 10_000,
    heartbeatInterval: 500,
    rebalanceTimeout: 10_000,
  });
  consumers.push(consumer);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ message, partition }: EachMessagePayload) => {
      seen.push(message.value?.toString() ?? '');
      partitions?.add(partition);
      await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
    },
  });
  return consumer;
}

describe('kafkajs against the local Kafka 4 broker', () => {
  it('produces with acks=all, consumes in a group, and resumes after the committed offset', async () => {
    const topic = uniqueTopic('roundtrip');
    await ensureTopic(kafka, topic, 2);
    await ensureTopic(kafka, topic, 2); // idempotent
    // An existing topic keeps its own partition count (a service configured for more still starts).
    await ensureTopic(kafka, topic, 6, 5_000);
    const admin = kafka.admin();
    await admin.connect();
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    await admin.disconnect();
    expect(topics[0]?.partitions.length).toBe(2);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: ['a', 'b', 'c'].map((v) => ({ key: v, value: v })) });

    const first: string[] = [];
    const c1 = await consume(topic, `${topic}-g`, first);
    await waitFor(() => first.length === 3, { message: 'first three messages consumed', timeoutMs: 30_000 });
    await c1.disconnect();

    await producer.send({ topic, acks: -1, messages: ['d', 'e'].map((v) => ({ key: v, value: v })) });
    await producer.disconnect();
    const second: string[] = [];
    await consume(topic, `${topic}-g`, second);
    await waitFor(() => second.length === 2, {
      message: 'messages after the commit consumed',
      timeoutMs: 30_000,
    });
    expect(first.sort()).toEqual(['a', 'b', 'c']);
    expect(second.sort()).toEqual(['d', 'e']);
  });

  it('rebalances partitions between two consumers of one group', async () => {
    const topic = uniqueTopic('rebalance');
    await ensureTopic(kafka, topic, 4);
    const groupId = `${topic}-g`;
    const seenA: string[] = [];
    const seenB: string[] = [];
    const partsA = new Set<number>();
    const partsB = new Set<number>();
    await consume(topic, groupId, seenA, partsA);
    await consume(topic, groupId, seenB, partsB);
    const admin = kafka.admin();
    await admin.connect();
    // Wait until both members hold partitions, then produce to every partition.
    await waitFor(
      async () => {
        const d = await admin.describeGroups([groupId]);
        const members = d.groups[0]?.members ?? [];
        return members.length === 2 && d.groups[0]?.state === 'Stable';
      },
      { timeoutMs: 30_000, message: 'group of two stable' },
    );
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: 40 }, (_, i) => ({ partition: i % 4, value: `m${i}` })),
    });
    await producer.disconnect();
    await waitFor(() => seenA.length + seenB.length === 40, {
      timeoutMs: 30_000,
      message: 'all 40 consumed',
    });
    expect(partsA.size).toBeGreaterThan(0);
    expect(partsB.size).toBeGreaterThan(0);
    expect([...partsA].some((p) => partsB.has(p))).toBe(false);
    expect(new Set([...seenA, ...seenB]).size).toBe(40);
  });
});

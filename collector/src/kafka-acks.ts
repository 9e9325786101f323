/**
 * Whether a kafkajs send really reached every partition it was given (pure).
 *
 * kafkajs 2.2.4 (`producer/sendMessages.js`) keeps the answers of one send per broker. When a
 * partition's leader dies during a send, the retry looks up the partition's new leader, and if that
 * broker already answered for its own partitions, the moved partition is never sent again: the send
 * resolves as a success although that partition's messages were not written (an open report of the
 * same loss: tulios/kafkajs#1303). Seen here: a broker SIGKILLed under load, and two acknowledged
 * events missing from ClickHouse although the sessionizer had read the topic again from offset 0
 * (e2e/test/cluster/kafka-broker-loss.cluster.test.ts). The answers do name each partition written,
 * so the sink checks them and refuses (503) what is missing; the client sends again, and the
 * sessionizer keeps one copy of an event that reached Kafka twice.
 */
import type { RecordMetadata } from 'kafkajs';

/** The partitions of `sent` that no answer acknowledged without an error. */
export function unacknowledgedPartitions(
  topic: string,
  sent: readonly { partition?: number | undefined }[],
  answers: readonly RecordMetadata[],
): number[] {
  const acked = new Set(
    answers.filter((a) => a.topicName === topic && a.errorCode === 0).map((a) => a.partition),
  );
  const missing = new Set<number>();
  for (const m of sent) if (m.partition !== undefined && !acked.has(m.partition)) missing.add(m.partition);
  return [...missing].sort((a, b) => a - b);
}

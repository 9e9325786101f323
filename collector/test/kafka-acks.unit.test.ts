import type { RecordMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { unacknowledgedPartitions } from '../src/kafka-acks.ts';

const answer = (partition: number, errorCode = 0, topicName = 't'): RecordMetadata => ({
  topicName,
  partition,
  errorCode,
  baseOffset: '0',
});

describe('unacknowledgedPartitions', () => {
  it('is empty when every partition sent to has an answer', () => {
    const sent = [{ partition: 0 }, { partition: 3 }, { partition: 3 }];
    expect(unacknowledgedPartitions('t', sent, [answer(0), answer(3)])).toEqual([]);
  });

  it('names a partition kafkajs skipped (its leader moved to a broker that had answered)', () => {
    const sent = [{ partition: 1 }, { partition: 4 }, { partition: 2 }, { partition: 4 }];
    expect(unacknowledgedPartitions('t', sent, [answer(1), answer(2)])).toEqual([4]);
  });

  it('does not count an answer with an error, or one for another topic', () => {
    const sent = [{ partition: 0 }, { partition: 1 }];
    expect(unacknowledgedPartitions('t', sent, [answer(0, 6), answer(1, 0, 'other')])).toEqual([0, 1]);
  });

  it('cannot check a message without a fixed partition', () => {
    expect(unacknowledgedPartitions('t', [{}], [])).toEqual([]);
  });
});

import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { kafkaFailure } from '../src/kafka-errors.ts';

const require = createRequire(import.meta.url);
// kafkajs' own classes and error table: what its producer throws after its retries.
const errors = require('kafkajs/src/errors.js') as {
  KafkaJSProtocolError: new (e: unknown) => Error;
  KafkaJSNumberOfRetriesExceeded: new (e: Error, o: { retryCount: number; retryTime: number }) => Error;
  KafkaJSConnectionError: new (m: string, o?: unknown) => Error;
  KafkaJSRequestTimeoutError: new (m: string, o?: unknown) => Error;
};
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js') as {
  createErrorFromCode: (code: number) => Error;
};

const afterRetries = (e: Error) =>
  new errors.KafkaJSNumberOfRetriesExceeded(e, { retryCount: 5, retryTime: 1000 });

describe('kafkaFailure', () => {
  it('NOT_ENOUGH_REPLICAS (19) and NOT_ENOUGH_REPLICAS_AFTER_APPEND (20), bare or after retries', () => {
    for (const code of [19, 20]) {
      const protocol = createErrorFromCode(code);
      expect(kafkaFailure(protocol)).toBe('not_enough_replicas');
      expect(kafkaFailure(afterRetries(protocol))).toBe('not_enough_replicas');
    }
    expect((createErrorFromCode(19) as Error & { type: string }).type).toBe('NOT_ENOUGH_REPLICAS');
  });

  it('everything else is plain unavailability', () => {
    for (const err of [
      createErrorFromCode(6), // NOT_LEADER_OR_FOLLOWER
      createErrorFromCode(7), // REQUEST_TIMED_OUT
      afterRetries(createErrorFromCode(3)), // UNKNOWN_TOPIC_OR_PARTITION
      afterRetries(new errors.KafkaJSConnectionError('Connection error: ECONNREFUSED')),
      new errors.KafkaJSRequestTimeoutError('Request Produce timed out'),
      new Error('Kafka did not acknowledge in time'),
      'a string',
      null,
      undefined,
    ]) {
      expect(kafkaFailure(err)).toBe('unavailable');
    }
  });

  it('a cycle of causes ends', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    a.cause = a;
    expect(kafkaFailure(a)).toBe('unavailable');
  });
});

import { createRequire } from 'node:module';
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey } from '../src/kafka-sink.ts';

const require = createRequire(import.meta.url);
/** kafkajs' own murmur2 (64-bit Long arithmetic), the reference. */
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (
  key: string | Buffer,
) => number;

function randomKey(seed: number): string {
  let x = seed * 2654435761;
  const next = () => {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0;
    return (x >>> 0) / 2 ** 32;
  };
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.|';
  const length = Math.floor(next() * 80);
  let key = '';
  for (let i = 0; i < length; i++) key += alphabet[Math.floor(next() * alphabet.length)];
  return key;
}

describe('the sink partitioner', () => {
  it('hashes every key length and tail exactly as kafkajs does', () => {
    for (let seed = 0; seed < 5000; seed++) {
      const key = randomKey(seed);
      expect(murmur2(key)).toBe(kafkajsMurmur2(key));
    }
  });

  it('hashes non-ASCII keys by their UTF-8 bytes, as kafkajs does', () => {
    for (const key of ['é', 'ünïcödé|visitor', '日本語のサイト|abc', '😀|x', 'a😀b']) {
      expect(murmur2(key)).toBe(kafkajsMurmur2(key));
    }
  });

  it("picks the partition kafkajs' default partitioner would pick", () => {
    const partitioner = Partitioners.DefaultPartitioner();
    for (const partitions of [1, 3, 6, 7, 64]) {
      const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({
        partitionId: i,
        leader: 1,
        partitionErrorCode: 0,
        replicas: [1],
        isr: [1],
      }));
      for (let seed = 0; seed < 500; seed++) {
        const key = `example.com|${randomKey(seed)}`;
        expect(partitionForKey(key, partitions)).toBe(
          partitioner({ topic: 't', partitionMetadata, message: { key, value: 'v' } }),
        );
      }
    }
  });
});

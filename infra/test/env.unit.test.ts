import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, envFields, parseEnv } from '../src/service/env.ts';

const schema = z.object({
  PORT: envFields.port(8080),
  KAFKA_BROKERS: envFields.kafkaBrokers,
  CLICKHOUSE_URL: envFields.clickhouseUrl,
});

describe('parseEnv', () => {
  it('fills defaults and coerces numbers', () => {
    expect(parseEnv('svc', schema, {})).toEqual({
      PORT: 8080,
      KAFKA_BROKERS: '127.0.0.1:19092',
      CLICKHOUSE_URL: 'http://127.0.0.1:18123',
    });
  });

  it('names every bad variable in one error', () => {
    try {
      parseEnv('svc', schema, { PORT: 'eighty', KAFKA_BROKERS: 'nohost', CLICKHOUSE_URL: 'not a url' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const msg = (err as Error).message;
      expect(msg).toContain('PORT');
      expect(msg).toContain('KAFKA_BROKERS');
      expect(msg).toContain('CLICKHOUSE_URL');
      expect((err as ConfigError).problems).toHaveLength(3);
    }
  });
});

import { decodeKafkaEvent, encodeKafkaEvent, KafkaEventSchema } from '@stint/collector/contract';
import { Random } from '@stint/infra/testing';
import { describe, expect, it } from 'vitest';
import { decodeEvent, fastEvent } from '../src/decode.ts';
import { ev, T0 } from './helpers.ts';

/** What the contract's schema does with a parsed message: its output, or that it throws. */
function bySchema(raw: unknown): { ok: true; value: unknown } | { ok: false } {
  const r = KafkaEventSchema.safeParse(raw);
  return r.success ? { ok: true, value: r.data } : { ok: false };
}

const WEIRD: unknown[] = [
  null,
  undefined,
  0,
  -1,
  1.5,
  2 ** 53,
  -(2 ** 53),
  1e308,
  '',
  'x',
  '1',
  true,
  false,
  [],
  ['a'],
  {},
  { a: 'b' },
  { a: 1 },
  { __proto__: 'x' },
  101,
  100,
];

/** A valid event with one field replaced by, or without, something odd. */
function mutate(rng: Random, base: Record<string, unknown>): unknown {
  const keys = Object.keys(base);
  const out: Record<string, unknown> = { ...base };
  const key = keys[rng.int(0, keys.length - 1)] as string;
  const what = rng.int(0, 4);
  if (what === 0) delete out[key];
  else if (what === 1) out[`extra_${rng.int(0, 3)}`] = WEIRD[rng.int(0, WEIRD.length - 1)];
  else out[key] = WEIRD[rng.int(0, WEIRD.length - 1)];
  return out;
}

describe('decoding Kafka messages', () => {
  it('gives exactly what the schema gives for valid events, in the schema key order', () => {
    const events = [
      ev('e1', T0),
      ev('e2', T0, { prev_visitor_id: 'yesterday', props: { plan: 'pro', '': '' }, scroll_depth: 100 }),
      ev('e3', -T0, { engaged_ms: 0, received_at: Number.MAX_SAFE_INTEGER, props: { constructor: 'x' } }),
    ];
    for (const e of events) {
      const bytes = encodeKafkaEvent(e);
      const fast = decodeEvent(bytes);
      expect(fast).toStrictEqual(decodeKafkaEvent(bytes));
      expect(JSON.stringify(fast)).toBe(JSON.stringify(decodeKafkaEvent(bytes)));
    }
  });

  it('drops unknown keys as the schema does', () => {
    const raw = { ...ev('e1', T0), extra: 1, nested: { a: 1 } };
    expect(fastEvent(raw)).toStrictEqual(KafkaEventSchema.parse(raw));
  });

  it('accepts only what the schema accepts and then returns the same value, on thousands of broken events', () => {
    const rng = new Random(11);
    const base = JSON.parse(JSON.stringify(ev('e1', T0, { props: { a: 'b' } }))) as Record<string, unknown>;
    let accepted = 0;
    for (let i = 0; i < 5000; i++) {
      let raw = mutate(rng, base);
      if (rng.chance(0.3)) raw = mutate(rng, raw as Record<string, unknown>);
      const fast = fastEvent(raw);
      const schema = bySchema(raw);
      if (fast !== null) {
        accepted++;
        expect(schema).toEqual({ ok: true, value: fast });
      }
      // Whatever the fast check leaves to the schema, decodeEvent answers as the schema does.
      const bytes = Buffer.from(JSON.stringify(raw) ?? 'null');
      if (schema.ok)
        expect(decodeEvent(bytes)).toStrictEqual(KafkaEventSchema.parse(JSON.parse(bytes.toString())));
      else expect(() => decodeEvent(bytes)).toThrow();
    }
    // The fast path is not vacuous: harmless mutations (an extra key, a valid value) pass it.
    expect(accepted).toBeGreaterThan(500);
  });

  it('throws the schema error for an invalid message and a syntax error for a message that is not JSON', () => {
    const bad = Buffer.from(JSON.stringify({ ...ev('e1', T0), v: 2 }));
    expect(() => decodeEvent(bad)).toThrow(/expected 1|Invalid input/);
    expect(() => decodeEvent(Buffer.from('{nope'))).toThrow(SyntaxError);
  });
});

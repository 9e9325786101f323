import { describe, expect, it } from 'vitest';
import { createMemorySaltStore } from '../src/enrich/salt-store.ts';
import {
  derivedSalt,
  historicalIds,
  liveIds,
  stablePartition,
  utcDay,
  visitorIdFor,
} from '../src/enrich/visitor-id.ts';

const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0';
const at = (iso: string) => Date.parse(iso);

describe('cookieless visitor ids', () => {
  it('is stable within a day and different for another site, IP or user agent', () => {
    const store = createMemorySaltStore(undefined, () => at('2025-03-10T12:00:00Z'));
    const now = at('2025-03-10T12:00:00Z');
    const a = liveIds(store, now, 'example.com', '1.2.3.4', UA);
    expect(liveIds(store, now + 3600_000, 'example.com', '1.2.3.4', UA)).toEqual(a);
    expect(liveIds(store, now, 'other.com', '1.2.3.4', UA).visitor_id).not.toBe(a.visitor_id);
    expect(liveIds(store, now, 'example.com', '1.2.3.5', UA).visitor_id).not.toBe(a.visitor_id);
    expect(liveIds(store, now, 'example.com', '1.2.3.4', `${UA} x`).visitor_id).not.toBe(a.visitor_id);
    expect(a.visitor_id).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('links a visit across midnight: the new day carries the old id as prev_visitor_id', () => {
    let now = at('2025-03-10T23:59:00Z');
    const store = createMemorySaltStore(undefined, () => now);
    const before = liveIds(store, now, 'example.com', '1.2.3.4', UA);
    now = at('2025-03-11T00:01:00Z');
    const after = liveIds(store, now, 'example.com', '1.2.3.4', UA);
    expect(after.visitor_id).not.toBe(before.visitor_id);
    expect(after.prev_visitor_id).toBe(before.visitor_id);
  });

  it('keeps the Kafka partition of a visitor unchanged across the rotation', () => {
    const secret = Buffer.alloc(32, 7);
    const p = stablePartition(secret, 'example.com', '1.2.3.4', UA, 12);
    expect(stablePartition(secret, 'example.com', '1.2.3.4', UA, 12)).toBe(p);
    const spread = new Set(
      Array.from({ length: 200 }, (_, i) => stablePartition(secret, 'example.com', `10.0.0.${i}`, UA, 12)),
    );
    expect(spread.size).toBe(12);
  });

  it('derives historical ids deterministically from the install secret and the event day', () => {
    const secret = Buffer.alloc(32, 1);
    const a = historicalIds(secret, at('2024-01-05T10:00:00Z'), 'example.com', '1.2.3.4', UA);
    expect(historicalIds(secret, at('2024-01-05T22:00:00Z'), 'example.com', '1.2.3.4', UA)).toEqual(a);
    const next = historicalIds(secret, at('2024-01-06T01:00:00Z'), 'example.com', '1.2.3.4', UA);
    expect(next.prev_visitor_id).toBe(a.visitor_id);
    expect(
      historicalIds(Buffer.alloc(32, 2), at('2024-01-05T10:00:00Z'), 'example.com', '1.2.3.4', UA),
    ).not.toEqual(a);
  });

  it('gives the same historical ids from its per-day cache as from the salts themselves, over 200 days', () => {
    const secret = Buffer.alloc(32, 3);
    const direct = (ts: number) => {
      const day = utcDay(ts);
      const prev = utcDay(ts - 86_400_000);
      return {
        visitor_id: visitorIdFor(derivedSalt(secret, day), 'example.com', '1.2.3.4', UA),
        prev_visitor_id: visitorIdFor(derivedSalt(secret, prev), 'example.com', '1.2.3.4', UA),
      };
    };
    // Forwards, then back again (past the cache's size, so days are computed again after a clear).
    const start = at('2015-12-30T23:59:59Z');
    const times = Array.from({ length: 200 }, (_, i) => start + i * 86_400_000 + (i % 3) * 1000);
    for (const ts of [...times, ...times.reverse()]) {
      expect(historicalIds(secret, ts, 'example.com', '1.2.3.4', UA)).toEqual(direct(ts));
    }
  });
});

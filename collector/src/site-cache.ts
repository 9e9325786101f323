/**
 * Registered sites, cached: every event names its site, and asking ClickHouse each time would cost
 * more than the rest of the request. Positive answers live `ttlMs`, negative ones a few seconds (a
 * freshly added site starts to count quickly). Bounded, so random site names cannot grow it, and
 * concurrent misses for one site share one lookup.
 */
export type SiteExists = (site: string) => Promise<boolean>;

/**
 * The registry could not be asked (ClickHouse down) and nothing usable was cached: the request is
 * answered 503 + Retry-After, never 500, so senders retry.
 */
export class LookupUnavailableError extends Error {}

export interface CacheOptions {
  ttlMs?: number;
  negativeTtlMs?: number;
  max?: number;
  now?: () => number;
}

export function createSiteCache(lookup: SiteExists, options: CacheOptions = {}): SiteExists {
  return cachedPredicate(lookup, (site) => site, options);
}

/** The same cache for any yes/no lookup; `key` must identify the arguments (never store a secret in it). */
export function cachedPredicate<A extends unknown[]>(
  lookup: (...args: A) => Promise<boolean>,
  key: (...args: A) => string,
  options: CacheOptions = {},
): (...args: A) => Promise<boolean> {
  return cachedLookup(lookup, key, (exists) => exists, options);
}

/**
 * The same cache for any lookup: `good` answers live `ttlMs` and survive a failed refresh (stale if
 * error), the others `negativeTtlMs`.
 */
export function cachedLookup<A extends unknown[], T>(
  lookup: (...args: A) => Promise<T>,
  key: (...args: A) => string,
  good: (value: T) => boolean,
  options: CacheOptions = {},
): (...args: A) => Promise<T> {
  const ttl = options.ttlMs ?? 30_000;
  const negativeTtl = options.negativeTtlMs ?? 5_000;
  const max = options.max ?? 10_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { value: T; until: number }>();
  const pending = new Map<string, Promise<T>>();

  return async (...args) => {
    const k = key(...args);
    const hit = cache.get(k);
    if (hit !== undefined && hit.until > now()) return hit.value;
    const running = pending.get(k);
    if (running !== undefined) return running;
    const p = lookup(...args)
      .catch((err: unknown) => {
        // Stale-if-error: a site or token known to be good keeps working while ClickHouse is down
        // (Kafka may well be up); an unknown one cannot be decided yet.
        if (hit !== undefined && good(hit.value)) return hit.value;
        throw new LookupUnavailableError(`registry lookup failed: ${(err as Error).message}`);
      })
      .then((value) => {
        cache.delete(k);
        cache.set(k, { value, until: now() + (good(value) ? ttl : negativeTtl) });
        if (cache.size > max) {
          const oldest = cache.keys().next().value;
          if (oldest !== undefined) cache.delete(oldest);
        }
        return value;
      })
      .finally(() => pending.delete(k));
    pending.set(k, p);
    return p;
  };
}

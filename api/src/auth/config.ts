/** Auth settings, their defaults and the environment variables that set them (parsed in main.ts). */
import { z } from 'zod';
import { DEFAULT_SCRYPT, type ScryptParams } from './password.ts';

export interface AuthSettings {
  /** A session unused (by anything but background polling) this long is refused. */
  idleTimeoutMs: number;
  /** A session older than this is refused however active it is. */
  absoluteTimeoutMs: number;
  /** Activity is written at most this often per session (and instance). */
  touchIntervalMs: number;
  /** Failed sign-ins count for this long. */
  failureWindowMs: number;
  /** Failures within the window after which an account is refused (429) until they age out. */
  maxAccountFailures: number;
  /** The same per client address (higher: offices and NAT share addresses). */
  maxIpFailures: number;
  /** Failures after which each attempt on the account waits, doubling per further failure. */
  accountDelayAfter: number;
  ipDelayAfter: number;
  delayBaseMs: number;
  delayMaxMs: number;
  /** Account failures at which a `many_failures` signal is recorded. */
  manyFailuresSignalAt: number;
  /** Origins besides the api's own that may send state-changing requests (e.g. behind a proxy). */
  allowedOrigins: string[];
  /** Cost of new password hashes. */
  scrypt: ScryptParams;
}

export const DEFAULT_AUTH_SETTINGS: AuthSettings = {
  idleTimeoutMs: 30 * 60_000,
  absoluteTimeoutMs: 12 * 3600_000,
  touchIntervalMs: 60_000,
  failureWindowMs: 15 * 60_000,
  maxAccountFailures: 10,
  maxIpFailures: 50,
  accountDelayAfter: 3,
  ipDelayAfter: 10,
  delayBaseMs: 250,
  delayMaxMs: 8_000,
  manyFailuresSignalAt: 5,
  allowedOrigins: [],
  scrypt: DEFAULT_SCRYPT,
};

/** `30m`, `12h`, `90s`, `45` (seconds) → ms. */
export function durationMs(text: string): number {
  const m = /^(\d+)\s*(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`not a duration: ${JSON.stringify(text)} (use e.g. 30m, 12h, 90s)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return unit === 'ms' ? n : unit === 'h' ? n * 3600_000 : unit === 'm' ? n * 60_000 : n * 1000;
}

const duration = (def: string) =>
  z
    .string()
    .default(def)
    .transform((s, ctx) => {
      try {
        return durationMs(s);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    });

/** Environment variables of the auth part; main.ts merges them into the api's env schema. */
export const AuthEnv = {
  AUTH_IDLE_TIMEOUT: duration('30m'),
  AUTH_ABSOLUTE_TIMEOUT: duration('12h'),
  /** Comma-separated origins (https://stint.example.com) allowed besides the api's own. */
  AUTH_ORIGINS: z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.url())),
  /** Header a trusted proxy sets to the client's country (e.g. CF-IPCountry); else GeoIP. */
  AUTH_COUNTRY_HEADER: z.string().min(1).optional(),
  /** `off` skips the GeoIP database (country signals then need AUTH_COUNTRY_HEADER). */
  AUTH_GEOIP: z.enum(['on', 'off']).default('on'),
  /** Fastify trustProxy: `true` or addresses/CIDRs of the proxies. Default off. */
  API_TRUST_PROXY: z.string().optional(),
  AUTH_SCRYPT_N: z.coerce
    .number()
    .int()
    .refine(
      (n) => n >= 2 ** 14 && n <= 2 ** 20 && (n & (n - 1)) === 0,
      'a power of two from 16384 to 1048576',
    )
    .default(DEFAULT_SCRYPT.N),
};

/** API_TRUST_PROXY → Fastify's trustProxy: `true`, or addresses/CIDRs of the proxies (comma-separated). */
export function trustProxyOption(text: string | undefined): boolean | string | undefined {
  if (text === undefined || text === '' || text === 'false') return undefined;
  return text === 'true' ? true : text;
}

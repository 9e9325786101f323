/**
 * Password hashing with scrypt (node:crypto, memory-hard) and the password policy.
 *
 * Stored form: `scrypt$<N>$<r>$<p>$<salt b64>$<hash b64>` — the parameters travel with each hash, so
 * raising them later only affects new hashes (and old ones are re-hashed at the next sign-in).
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { COMMON_PASSWORDS } from './common-passwords.ts';

export interface ScryptParams {
  /** CPU/memory cost, a power of two. Memory used is 128 · N · r bytes (32 MiB for 2^15, r 8). */
  N: number;
  r: number;
  p: number;
}

/**
 * 2^15 · 8 · 1: 32 MiB and ~150 ms per hash on the 2-core reference machine — twice Node's default
 * cost. OWASP's first choice (2^17, 128 MiB) takes ~1.2 s here and lets a handful of concurrent
 * sign-ins exhaust memory; raise it with AUTH_SCRYPT_N on larger hosts.
 */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };
const KEY_LEN = 32;
const SALT_LEN = 16;

export const MIN_PASSWORD_LENGTH = 10;
/** Longer inputs are refused before hashing so a huge body cannot buy a long scrypt run. */
export const MAX_PASSWORD_LENGTH = 1024;

function derive(password: string, salt: Buffer, p: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(
      password.normalize('NFKC'),
      salt,
      KEY_LEN,
      { N: p.N, r: p.r, p: p.p, maxmem: 256 * p.N * p.r + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_LEN);
  const key = await derive(password, salt, params);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64'), key.toString('base64')].join('$');
}

interface Parsed {
  params: ScryptParams;
  salt: Buffer;
  key: Buffer;
}

function parse(stored: string): Parsed | null {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(stored);
  if (!m) return null;
  const params = { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  // Refuse absurd stored parameters rather than let a corrupted row pin the CPU.
  if (params.N < 2 || params.N > 2 ** 20 || params.r < 1 || params.r > 32 || params.p < 1 || params.p > 16)
    return null;
  return { params, salt: Buffer.from(m[4] ?? '', 'base64'), key: Buffer.from(m[5] ?? '', 'base64') };
}

/**
 * Checks a password against a stored hash in constant time. With `stored` null (unknown user) it
 * still runs one scrypt of cost `params` (the cost new hashes get), so both cases take the same time.
 */
export async function verifyPassword(
  password: string,
  stored: string | null,
  params: ScryptParams = DEFAULT_SCRYPT,
): Promise<boolean> {
  const parsed = stored === null ? null : parse(stored);
  const target = parsed ?? { ...DUMMY, params };
  const key = await derive(password, target.salt, target.params);
  const same = key.length === target.key.length && timingSafeEqual(key, target.key);
  return parsed !== null && same;
}

/** True when a stored hash was made with other parameters than `params` (re-hash it at sign-in). */
export function needsRehash(stored: string, params: ScryptParams = DEFAULT_SCRYPT): boolean {
  const parsed = parse(stored);
  return (
    parsed === null ||
    parsed.params.N !== params.N ||
    parsed.params.r !== params.r ||
    parsed.params.p !== params.p
  );
}

const DUMMY = { salt: randomBytes(SALT_LEN), key: randomBytes(KEY_LEN) };

/** The reason a new password is refused, or null when it is acceptable. */
export function passwordProblem(password: string, email = ''): string | null {
  if (password.length < MIN_PASSWORD_LENGTH)
    return `a password needs at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > MAX_PASSWORD_LENGTH)
    return `a password may have at most ${MAX_PASSWORD_LENGTH} characters`;
  const lower = password.toLowerCase();
  if (COMMON_PASSWORDS.has(lower)) return 'this password is on the list of common passwords';
  if (/^(.)\1+$/.test(password)) return 'a password may not repeat one character';
  const local = email.toLowerCase().split('@')[0] ?? '';
  if (local.length >= 4 && lower.includes(local)) return 'a password may not contain the email name';
  return null;
}

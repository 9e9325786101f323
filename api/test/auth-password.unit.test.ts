/** Password hashing (scrypt, stored parameters), the password policy, session ids and CSRF tokens. */
import { describe, expect, it } from 'vitest';
import { ipPrefix } from '../src/auth/client-info.ts';
import { hashPassword, needsRehash, passwordProblem, verifyPassword } from '../src/auth/password.ts';
import { csrfMatches, csrfToken, hashSessionId, newSessionId } from '../src/auth/service.ts';

const LOW = { N: 2 ** 14, r: 8, p: 1 };

describe('passwords', () => {
  it('a hash stores its scrypt parameters and a per-user salt, and verifies only the right password', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse battery', a)).toBe(true);
    expect(await verifyPassword('correct horse batterY', a)).toBe(false);
  });

  it('a hash made with other parameters still verifies, and is flagged for re-hashing', async () => {
    const low = await hashPassword('correct horse battery', LOW);
    expect(await verifyPassword('correct horse battery', low)).toBe(true);
    expect(needsRehash(low)).toBe(true);
    expect(needsRehash(await hashPassword('x'.repeat(12)))).toBe(false);
  });

  it('an unknown user (no stored hash) is refused after the same scrypt work', async () => {
    const stored = await hashPassword('correct horse battery');
    const known: number[] = [];
    const unknown: number[] = [];
    // Interleaved, medians: other test files share the CPU.
    for (let i = 0; i < 5; i++) {
      let t = performance.now();
      expect(await verifyPassword('correct horse battery', stored)).toBe(true);
      known.push(performance.now() - t);
      t = performance.now();
      expect(await verifyPassword('correct horse battery', null)).toBe(false);
      unknown.push(performance.now() - t);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[2] ?? 0;
    // Without the dummy hash the unknown case would take microseconds.
    expect(median(unknown)).toBeGreaterThan(median(known) * 0.3);
  });

  it('short, common, one-character and name-containing passwords are refused', () => {
    expect(passwordProblem('short')).toMatch(/at least 10/);
    expect(passwordProblem('Password123')).toMatch(/common/);
    expect(passwordProblem('qwertyuiop')).toMatch(/common/);
    expect(passwordProblem('zzzzzzzzzzzz')).toMatch(/common|repeat/);
    expect(passwordProblem('jdoe-secret-99', 'jdoe@example.com')).toMatch(/e-?mail name/);
    expect(passwordProblem('correct horse battery', 'jdoe@example.com')).toBeNull();
  });
});

describe('session ids and CSRF tokens', () => {
  it('session ids are 256-bit random base64url strings, stored as SHA-256', () => {
    const ids = new Set(Array.from({ length: 1000 }, newSessionId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(hashSessionId('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('a CSRF token belongs to one session id', () => {
    const a = newSessionId();
    const b = newSessionId();
    expect(csrfMatches(a, csrfToken(a))).toBe(true);
    expect(csrfMatches(a, csrfToken(b))).toBe(false);
    expect(csrfMatches(a, '')).toBe(false);
  });

  it('addresses are recorded as /24 and /48 prefixes', () => {
    expect(ipPrefix('203.0.113.77')).toBe('203.0.113.0/24');
    expect(ipPrefix('::ffff:198.51.100.9')).toBe('198.51.100.0/24');
    expect(ipPrefix('2001:db8:abcd:12::1')).toBe('2001:db8:abcd::/48');
    expect(ipPrefix('2001:db8::1')).toBe('2001:db8:0::/48');
  });
});

import { describe, expect, test } from 'vitest';
import { buildSnippet, MAX_GZIP_BYTES, snippetSize } from '../snippet/build.ts';

describe('the snippet build', () => {
  test('produces one self-contained script under 1.5 KB gzipped', async () => {
    const code = await buildSnippet();
    const { raw, gzip } = snippetSize(code);
    expect(gzip).toBeLessThanOrEqual(MAX_GZIP_BYTES);
    expect(raw).toBeGreaterThan(gzip);
    const text = code.toString('utf8');
    // A classic script (no module syntax) that parses, wrapped so it declares no page globals.
    expect(() => new Function(text)).not.toThrow();
    expect(text).toMatch(/^"use strict";\(\(\)=>\{/);
    expect(text).not.toMatch(/\bimport\b|\bexport\b/);
  });
});

/**
 * Serving /stint.js. The snippet is built by collector/snippet/build.ts (`buildSnippet()`), loaded
 * lazily by path so the collector runs (and answers 503) while the snippet is absent or broken.
 * The build runs once; the result is kept with its gzip form and an ETag.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export interface BuiltSnippet {
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

export type SnippetBuilder = () => Promise<Buffer>;

const BUILD_FILE = new URL('../snippet/build.ts', import.meta.url);

export const defaultSnippetBuilder: SnippetBuilder = async () => {
  if (!existsSync(fileURLToPath(BUILD_FILE))) {
    throw new Error('the snippet is not available yet (collector/snippet/build.ts is missing)');
  }
  const mod = (await import(BUILD_FILE.href)) as {
    buildSnippet?: () => Promise<Buffer | Uint8Array | string>;
  };
  if (typeof mod.buildSnippet !== 'function') {
    throw new Error('collector/snippet/build.ts does not export buildSnippet()');
  }
  const out = await mod.buildSnippet();
  return Buffer.isBuffer(out) ? out : Buffer.from(out);
};

/** Memoises a successful build; a failure is retried after `retryMs`. */
export function createSnippetCache(build: SnippetBuilder, retryMs = 5_000): () => Promise<BuiltSnippet> {
  let result: Promise<BuiltSnippet> | null = null;
  let failedAt = 0;
  return () => {
    if (result !== null && (failedAt === 0 || Date.now() - failedAt < retryMs)) return result;
    failedAt = 0;
    result = build().then(
      (body) => ({
        body,
        gzip: gzipSync(body, { level: 9 }),
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`,
      }),
      (err: unknown) => {
        failedAt = Date.now();
        throw err;
      },
    );
    return result;
  };
}

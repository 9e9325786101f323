/**
 * Builds the browser tracker (snippet/src/stint.ts) into one minified script.
 *
 *   npm run build:snippet -w @stint/collector   → collector/snippet/dist/stint.js, prints the sizes,
 *                                                 exits 1 when the gzipped size exceeds the budget.
 *
 * The collector calls `buildSnippet()` at start-up and serves the result from memory, so the served
 * script can never drift from the source.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const SNIPPET_SOURCE = join(here, 'src', 'stint.ts');
export const SNIPPET_OUTPUT = join(here, 'dist', 'stint.js');
/** The budget for the default build: 1.5 KB gzipped. */
export const MAX_GZIP_BYTES = 1536;

export async function buildSnippet(): Promise<Buffer> {
  const result = await build({
    entryPoints: [SNIPPET_SOURCE],
    bundle: true,
    minify: true,
    write: false,
    format: 'iife',
    // Optional chaining, optional catch binding, object spread: browsers since early 2020.
    target: 'es2020',
    legalComments: 'none',
    logLevel: 'silent',
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error('esbuild produced no output for the snippet');
  return Buffer.from(file.contents);
}

export function snippetSize(code: Buffer): { raw: number; gzip: number } {
  // Level 9 is what a precompressing server or CDN uses; level 6 (nginx/zlib default) adds a few bytes.
  return { raw: code.length, gzip: gzipSync(code, { level: 9 }).length };
}

async function main(): Promise<void> {
  const code = await buildSnippet();
  await mkdir(dirname(SNIPPET_OUTPUT), { recursive: true });
  await writeFile(SNIPPET_OUTPUT, code);
  const { raw, gzip } = snippetSize(code);
  const gzip6 = gzipSync(code).length;
  console.log(`snippet: ${SNIPPET_OUTPUT}`);
  console.log(`  raw ${raw} B, gzip -9 ${gzip} B, gzip -6 ${gzip6} B (budget ${MAX_GZIP_BYTES} B gzipped)`);
  if (gzip > MAX_GZIP_BYTES || gzip6 > MAX_GZIP_BYTES) {
    console.error(`snippet is over budget: ${Math.max(gzip, gzip6)} B > ${MAX_GZIP_BYTES} B gzipped`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}

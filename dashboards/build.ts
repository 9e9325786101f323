/**
 * Builds the dashboard into dashboards/dist/ (index.html, app.js, app.css), which the api serves at `/`.
 *
 *   npm run build -w @stint/dashboards
 */
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const DASHBOARD_SOURCE = join(here, 'src');
export const DASHBOARD_DIST = join(here, 'dist');

export async function buildDashboard(outdir: string = DASHBOARD_DIST): Promise<void> {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  await build({
    entryPoints: { app: join(DASHBOARD_SOURCE, 'main.ts') },
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2022',
    outdir,
    legalComments: 'none',
    logLevel: 'silent',
  });
  await copyFile(join(DASHBOARD_SOURCE, 'index.html'), join(outdir, 'index.html'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = Date.now();
  buildDashboard()
    .then(() => console.log(`dashboard built into ${DASHBOARD_DIST} in ${Date.now() - started} ms`))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}

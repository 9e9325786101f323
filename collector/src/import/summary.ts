/** What `stint import-logs` prints: a progress line while it reads, a summary at the end. Pure. */
import type { Example, ImportStats } from './import-logs.ts';

const n = (x: number) => x.toLocaleString('en-US');

export function formatProgress(s: ImportStats, done: boolean): string {
  const pct = s.bytesTotal > 0 ? Math.min(100, Math.round((s.bytesRead / s.bytesTotal) * 100)) : 100;
  const width = 24;
  const filled = Math.round((pct / 100) * width);
  const rate = s.elapsedMs > 0 ? ` · ${n(Math.round((s.lines / s.elapsedMs) * 1000))} lines/s` : '';
  const verb = s.dryRun ? 'page views found' : 'page views sent';
  return `${done ? 'done' : s.dryRun ? 'parsing' : 'importing'} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct}% · ${n(s.lines)} lines · ${n(s.dryRun ? s.pageViews : s.sent)} ${verb}${rate}`;
}

function reasons(by: Record<string, number>): string {
  return Object.entries(by)
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${n(v)}`)
    .join(', ');
}

function examples(by: Record<string, Example>): string[] {
  return Object.entries(by)
    .sort((a, b) => b[1].count - a[1].count)
    .map(([reason, e]) => `    ${reason} ${n(e.count)} (first: line ${e.line}: ${e.text})`);
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

/** The end-of-import summary: lines, page views sent per site, skipped and unparsed and rejected by reason. */
export function formatSummary(s: ImportStats): string {
  const skipped = Object.values(s.skipped).reduce((a, b) => a + b, 0);
  const out = [
    `${s.dryRun ? 'dry run (nothing sent)' : 'import'} of ${s.file} (format ${s.format}) in ${(s.elapsedMs / 1000).toFixed(1)} s`,
    `  lines              ${n(s.lines)}`,
  ];
  const sites = Object.entries(s.perSite)
    .sort((a, b) => b[1] - a[1])
    .map(([site, v]) => `${site} ${n(v)}`)
    .join(', ');
  if (s.dryRun) out.push(`  page views found   ${n(s.pageViews)}${sites ? ` (${sites})` : ''}`);
  else {
    out.push(`  page views sent    ${n(s.sent)}${sites ? ` (${sites})` : ''}`);
    if (s.dropped > 0) out.push(`    of which the collector dropped ${n(s.dropped)} (bots it recognised)`);
    out.push(
      `  already imported   ${n(s.alreadyStored)}${s.alreadyStored ? ' (stored by an earlier run: not sent again)' : ''}`,
    );
  }
  if (s.firstTs !== undefined && s.lastTs !== undefined) {
    out.push(`  times              ${day(s.firstTs)} … ${day(s.lastTs)} UTC`);
  }
  out.push(`  skipped            ${n(skipped)}${skipped ? ` (${reasons(s.skipped)})` : ''}`);
  out.push(`  unparsed           ${n(s.unparsed)}`, ...examples(s.unparsedBy));
  if (!s.dryRun) out.push(`  rejected           ${n(s.rejected)}`, ...examples(s.rejectedBy));
  return out.join('\n');
}

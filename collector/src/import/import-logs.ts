/**
 * Streams an access log (plain or gzip) into the collector's batch endpoint, in log order, 1,000
 * events per request. 429/503 answers are retried after their Retry-After; a 400 naming one event
 * (e.g. a time older than the collector accepts) drops that event and sends the rest again.
 */
import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { LIMITS, type ServerEvent } from '../contract/event.ts';
import { classify, parseCombinedLine, toServerEvent, type Verdict } from './log-line.ts';

export interface ImportOptions {
  file: string;
  site: string;
  token: string;
  collector: string;
  /** Scheme and host put before each logged path (default https://<site>). */
  baseUrl?: string;
  batchSize?: number;
  /** Called about once a second and at the end. */
  progress?: (stats: ImportStats, done: boolean) => void;
  fetch?: typeof fetch;
}

export interface ImportStats {
  lines: number;
  sent: number;
  rejected: number;
  skipped: Record<Verdict | 'malformed', number>;
  bytesRead: number;
  bytesTotal: number;
  firstError?: string;
}

async function sleep(ms: number) {
  await new Promise((r) => setTimeout(r, ms));
}

export async function importLogs(opts: ImportOptions): Promise<ImportStats> {
  const batchSize = Math.min(opts.batchSize ?? LIMITS.batchEvents, LIMITS.batchEvents);
  const baseUrl = opts.baseUrl ?? `https://${opts.site}`;
  const doFetch = opts.fetch ?? fetch;
  const stats: ImportStats = {
    lines: 0,
    sent: 0,
    rejected: 0,
    skipped: { malformed: 0, not_get: 0, status: 0, static: 0, bot: 0, page: 0 },
    bytesRead: 0,
    bytesTotal: statSync(opts.file).size,
  };

  const raw = createReadStream(opts.file);
  raw.on('data', (chunk) => {
    stats.bytesRead += chunk.length;
  });
  const gz = await isGzip(opts.file);
  const input: Readable = gz ? raw.pipe(createGunzip()) : raw;
  if (gz) raw.on('error', (err) => input.destroy(err));

  const send = async (events: ServerEvent[]) => {
    let pending = events;
    for (let attempt = 0; pending.length > 0; attempt++) {
      const res = await doFetch(`${opts.collector.replace(/\/$/, '')}/api/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${opts.token}` },
        body: JSON.stringify({ site: opts.site, events: pending }),
      });
      const body = (await res.json().catch(() => ({}))) as {
        accepted?: number;
        field?: string;
        message?: string;
      };
      if (res.ok) {
        stats.sent += body.accepted ?? pending.length;
        return;
      }
      if ((res.status === 429 || res.status === 503) && attempt < 60) {
        await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
        continue;
      }
      const bad = /^events\.(\d+)\./.exec(body.field ?? '')?.[1];
      if (res.status === 400 && bad !== undefined) {
        stats.rejected++;
        stats.firstError ??= body.message;
        pending = pending.filter((_, i) => i !== Number(bad));
        continue;
      }
      throw new Error(`collector answered ${res.status}: ${body.message ?? res.statusText}`);
    }
  };

  let batch: ServerEvent[] = [];
  let lastReport = Date.now();
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    stats.lines++;
    if (line.trim() === '') continue;
    const entry = parseCombinedLine(line);
    if (entry === null) {
      stats.skipped.malformed++;
      continue;
    }
    const verdict = classify(entry);
    if (verdict !== 'page') {
      stats.skipped[verdict]++;
      continue;
    }
    batch.push(toServerEvent(entry, { site: opts.site, baseUrl, line, lineNo: stats.lines }));
    if (batch.length >= batchSize) {
      await send(batch);
      batch = [];
    }
    if (opts.progress && Date.now() - lastReport > 1000) {
      lastReport = Date.now();
      opts.progress(stats, false);
    }
  }
  if (batch.length > 0) await send(batch);
  opts.progress?.(stats, true);
  return stats;
}

async function isGzip(file: string): Promise<boolean> {
  if (file.endsWith('.gz')) return true;
  const stream = createReadStream(file, { start: 0, end: 1 });
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    return b[0] === 0x1f && b[1] === 0x8b;
  }
  return false;
}

export function formatProgress(s: ImportStats, done: boolean): string {
  const pct = s.bytesTotal > 0 ? Math.min(100, Math.round((s.bytesRead / s.bytesTotal) * 100)) : 100;
  const width = 24;
  const filled = Math.round((pct / 100) * width);
  const skipped = Object.entries(s.skipped)
    .filter(([k, v]) => k !== 'page' && v > 0)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return `${done ? 'done' : 'importing'} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct}% · ${s.lines} lines · ${s.sent} page views sent${s.rejected ? ` · ${s.rejected} rejected` : ''}${skipped ? ` · skipped: ${skipped}` : ''}`;
}

/**
 * Streams an access log (plain or gzip, any format `log-format.ts` reads) into the collector's import
 * endpoint, POST /api/import: page views of any age the site allows, in log order, up to 1,000 events
 * (and under the body limit) per request, a few requests in flight. Lines are routed to sites by their
 * virtual host when asked (`SiteRouting`).
 *
 * 429/503 answers are retried after their Retry-After and an unreachable collector a few times; a 400
 * naming one event (e.g. a time before the site's import bound) drops that event, counts it by reason,
 * and sends the rest again. Event ids come from the file's content (see `toServerEvent`), so running
 * the import again — after a failure half-way, or by mistake — sends the same events, which the
 * sessionizer writes as the same sessions: nothing is counted twice.
 */
import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { LIMITS, type ServerEvent } from '../contract/event.ts';
import type { LineFormat } from './log-format.ts';
import { normalHost } from './log-format.ts';
import { classify, type LogEntry, toServerEvent } from './log-line.ts';

export interface SiteRouting {
  /** The site of every line, or of lines whose host `vhostMap` does not name. */
  site?: string;
  /** Only lines of these virtual hosts are imported (`*.example.com` matches subdomains). */
  hosts?: string[];
  /** Virtual host (or `*.domain`) → site. */
  vhostMap?: Record<string, string>;
}

export interface ImportOptions {
  file: string;
  format: LineFormat;
  routing: SiteRouting;
  token: string;
  collector: string;
  /** Parse and classify only; nothing is sent. */
  dryRun?: boolean;
  /** Scheme and host put before each logged path (default https://<site>). */
  baseUrl?: string;
  batchSize?: number;
  /** Requests in flight at once (default 2: the collector enriches one while the next is parsed). */
  concurrency?: number;
  /** Called about once a second and at the end. */
  progress?: (stats: ImportStats, done: boolean) => void;
  fetch?: typeof fetch;
}

export type SkipReason = 'not_get' | 'status' | 'static' | 'bot' | 'other_host';

export interface Example {
  count: number;
  line: number;
  text: string;
}

export interface ImportStats {
  file: string;
  format: string;
  dryRun: boolean;
  lines: number;
  /** Page views kept for sending (sent + rejected + dropped, once done). */
  pageViews: number;
  sent: number;
  /** Accepted by the collector but dropped by its own filters (a bot its UA parser knows). */
  dropped: number;
  /** Left out by the collector because they are stored already (an earlier run of the same lines). */
  alreadyStored: number;
  perSite: Record<string, number>;
  skipped: Record<SkipReason, number>;
  unparsed: number;
  unparsedBy: Record<string, Example>;
  rejected: number;
  rejectedBy: Record<string, Example>;
  /** Earliest and latest time of the page views kept (epoch ms). */
  firstTs?: number;
  lastTs?: number;
  bytesRead: number;
  bytesTotal: number;
  elapsedMs: number;
}

interface Pending {
  event: ServerEvent;
  lineNo: number;
}

class Batcher {
  events: Pending[] = [];
  bytes = 0;
}

const BODY_BUDGET = LIMITS.batchBodyBytes - 64 * 1024;

async function sleep(ms: number) {
  await new Promise((r) => setTimeout(r, ms));
}

function count(by: Record<string, Example>, reason: string, line: number, text: string) {
  const e = by[reason];
  if (e) e.count++;
  else by[reason] = { count: 1, line, text: text.length > 160 ? `${text.slice(0, 160)}…` : text };
}

/** The routing rule for a host: the site, or null when the line is not imported. */
export function router(routing: SiteRouting): (host: string | undefined) => string | null {
  const match = (host: string, pattern: string) => {
    const p = normalHost(pattern);
    return p.startsWith('*.') ? host.endsWith(p.slice(1)) || host === p.slice(2) : host === p;
  };
  const hosts = routing.hosts;
  const map = Object.entries(routing.vhostMap ?? {});
  const fallback = routing.site ?? null;
  if (!hosts?.length && map.length === 0) return () => fallback;
  return (host) => {
    if (host === undefined) return null;
    if (hosts?.length && !hosts.some((p) => match(host, p))) return null;
    for (const [pattern, site] of map) if (match(host, pattern)) return site;
    return fallback;
  };
}

export async function importLogs(opts: ImportOptions): Promise<ImportStats> {
  const started = Date.now();
  const batchSize = Math.min(opts.batchSize ?? LIMITS.batchEvents, LIMITS.batchEvents);
  const concurrency = Math.max(1, opts.concurrency ?? 2);
  const doFetch = opts.fetch ?? fetch;
  const routeOf = router(opts.routing);
  const hostRules = Boolean(opts.routing.hosts?.length || Object.keys(opts.routing.vhostMap ?? {}).length);
  if (hostRules && !opts.format.hasHost) {
    throw new Error(
      `--host and --vhost-map need a format that logs the virtual host (${opts.format.name} does not; try --format vhost_combined or --log-format with %v / $host)`,
    );
  }
  if (!hostRules && opts.routing.site === undefined)
    throw new Error('a --site (or a --vhost-map) is required');
  const stats: ImportStats = {
    file: opts.file,
    format: opts.format.name,
    dryRun: opts.dryRun === true,
    lines: 0,
    pageViews: 0,
    sent: 0,
    dropped: 0,
    alreadyStored: 0,
    perSite: {},
    skipped: { not_get: 0, status: 0, static: 0, bot: 0, other_host: 0 },
    unparsed: 0,
    unparsedBy: {},
    rejected: 0,
    rejectedBy: {},
    bytesRead: 0,
    bytesTotal: statSync(opts.file).size,
    elapsedMs: 0,
  };

  const gz = await isGzip(opts.file);

  const endpoint = `${opts.collector.replace(/\/$/, '')}/api/import`;
  const post = async (site: string, events: ServerEvent[]): Promise<Response> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await doFetch(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${opts.token}` },
          body: JSON.stringify({ site, events }),
        });
      } catch (err) {
        if (attempt >= 8) {
          throw new Error(
            `the collector at ${opts.collector} cannot be reached (${(err as Error).message}); run the same command again once it is up: events already sent are recognised, nothing is counted twice`,
          );
        }
        await sleep(Math.min(500 * 2 ** attempt, 8000));
      }
    }
  };

  const send = async (site: string, items: Pending[]) => {
    let pending = items;
    for (let attempt = 0; pending.length > 0; attempt++) {
      const res = await post(
        site,
        pending.map((p) => p.event),
      );
      const body = (await res.json().catch(() => ({}))) as {
        accepted?: number;
        dropped?: number;
        already_stored?: number;
        error?: string;
        field?: string;
        message?: string;
      };
      if (res.ok) {
        const accepted = body.accepted ?? pending.length;
        stats.sent += accepted;
        stats.dropped += body.dropped ?? 0;
        stats.alreadyStored += body.already_stored ?? 0;
        if (accepted > 0) stats.perSite[site] = (stats.perSite[site] ?? 0) + accepted;
        return;
      }
      if ((res.status === 429 || res.status === 503) && attempt < 120) {
        await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
        continue;
      }
      const bad = /^events\.(\d+)\./.exec(body.field ?? '')?.[1];
      if (res.status === 400 && bad !== undefined) {
        const item = pending[Number(bad)] as Pending;
        stats.rejected++;
        count(stats.rejectedBy, body.error ?? 'invalid', item.lineNo, body.message ?? res.statusText);
        pending = pending.filter((_, i) => i !== Number(bad));
        continue;
      }
      throw new Error(
        `the collector answered ${res.status} (${body.error ?? res.statusText}): ${body.message ?? ''}`,
      );
    }
  };

  // Up to `concurrency` requests in flight; the first failure stops the import.
  const inflight = new Set<Promise<void>>();
  let failure: Error | undefined;
  const dispatch = async (site: string, b: Batcher) => {
    const items = b.events;
    b.events = [];
    b.bytes = 0;
    if (opts.dryRun) {
      stats.perSite[site] = (stats.perSite[site] ?? 0) + items.length;
      return;
    }
    if (failure) throw failure;
    while (inflight.size >= concurrency) await Promise.race(inflight);
    if (failure) throw failure;
    const p: Promise<void> = send(site, items)
      .catch((err: Error) => {
        failure ??= err;
      })
      .finally(() => inflight.delete(p));
    inflight.add(p);
  };

  const batches = new Map<string, Batcher>();
  const baseUrls = new Map<string, string>();
  let lastReport = Date.now();
  // The byte counter puts the stream in flowing mode: readline must be attached in the same tick,
  // or the first chunk (a whole small file) is emitted before anyone reads it.
  const raw = createReadStream(opts.file);
  raw.on('data', (chunk) => {
    stats.bytesRead += chunk.length;
  });
  const input: Readable = gz ? raw.pipe(createGunzip()) : raw;
  if (gz) raw.on('error', (err) => input.destroy(err));
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    stats.lines++;
    if (line.trim() === '') continue;
    const entry: LogEntry | string = opts.format.parse(line);
    if (typeof entry === 'string') {
      stats.unparsed++;
      count(stats.unparsedBy, entry, stats.lines, line);
      continue;
    }
    const verdict = classify(entry, { emptyUaIsBot: opts.format.hasUserAgent });
    if (verdict !== 'page') {
      stats.skipped[verdict]++;
      continue;
    }
    const site = routeOf(entry.host);
    if (site === null) {
      stats.skipped.other_host++;
      continue;
    }
    let baseUrl = baseUrls.get(site);
    if (baseUrl === undefined) {
      baseUrl = opts.baseUrl ?? `https://${site}`;
      baseUrls.set(site, baseUrl);
    }
    const event = toServerEvent(entry, { site, baseUrl, line, lineNo: stats.lines });
    stats.pageViews++;
    if (stats.firstTs === undefined || entry.ts < stats.firstTs) stats.firstTs = entry.ts;
    if (stats.lastTs === undefined || entry.ts > stats.lastTs) stats.lastTs = entry.ts;
    let b = batches.get(site);
    if (b === undefined) {
      b = new Batcher();
      batches.set(site, b);
    }
    const size = event.url.length + (event.user_agent?.length ?? 0) + (event.referrer?.length ?? 0) + 160;
    if (b.bytes + size > BODY_BUDGET) await dispatch(site, b);
    b.events.push({ event, lineNo: stats.lines });
    b.bytes += size;
    if (b.events.length >= batchSize) await dispatch(site, b);
    if (opts.progress && Date.now() - lastReport > 1000) {
      lastReport = Date.now();
      stats.elapsedMs = lastReport - started;
      opts.progress(stats, false);
    }
  }
  for (const [site, b] of batches) if (b.events.length > 0) await dispatch(site, b);
  await Promise.all(inflight);
  if (failure) throw failure;
  stats.elapsedMs = Date.now() - started;
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

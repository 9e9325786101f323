/**
 * What the soak samples: the resident memory of each process (VmRSS from /proc), the end-to-end
 * freshness of sampled events (acknowledged by the collector → row in events_raw), and the memory
 * growth after warm-up computed from the samples.
 */
import { existsSync, readFileSync } from 'node:fs';
import { type ClickHouseClient, join, queryRows, sql } from '@stint/infra/clickhouse';

/** Resident set size in MiB, or null when the process is gone or unreadable. */
export function rssMiB(pid: number | null): number | null {
  if (pid === null) return null;
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round((Number(m[1]) / 1024) * 10) / 10 : null;
  } catch {
    return null;
  }
}

export function pidFromFile(file: string): number | null {
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && existsSync(`/proc/${pid}`) ? pid : null;
}

interface Probe {
  site: string;
  eventId: string;
  ackedAt: number;
}

/**
 * Freshness probes: a few acknowledged event ids, polled in events_raw until each appears. The poll
 * interval bounds the resolution (a probe is seen at most `pollMs` after its row landed).
 */
export class FreshnessProbes {
  private pending: Probe[] = [];
  /** Freshness (ms) of probes that appeared, with the time they appeared. */
  readonly seen: { at: number; ms: number }[] = [];
  missing = 0;
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: ClickHouseClient,
    private readonly options: { pollMs: number; giveUpMs: number },
  ) {}

  add(probe: Probe): void {
    this.pending.push(probe);
  }

  get outstanding(): number {
    return this.pending.length;
  }

  start(): void {
    const tick = () => {
      this.polling = this.poll().finally(() => {
        if (this.timer !== null) this.timer = setTimeout(tick, this.options.pollMs);
      });
    };
    this.timer = setTimeout(tick, this.options.pollMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.polling;
  }

  private async poll(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending.slice(0, 200);
    const sites = [...new Set(batch.map((p) => p.site))];
    let rows: { event_id: string }[];
    try {
      rows = await queryRows<{ event_id: string }>(
        this.client,
        sql`SELECT DISTINCT event_id FROM events_raw WHERE site_id IN (${join(sites)}) AND event_id IN (${join(batch.map((p) => p.eventId))})`,
      );
    } catch {
      return; // a slow or busy server: try again next time
    }
    const now = Date.now();
    const found = new Set(rows.map((r) => r.event_id));
    this.pending = this.pending.filter((p) => {
      if (found.has(p.eventId)) {
        this.seen.push({ at: now, ms: now - p.ackedAt });
        return false;
      }
      if (now - p.ackedAt > this.options.giveUpMs) {
        this.missing++;
        return false;
      }
      return true;
    });
  }
}

/** Median of a list (0 when empty). */
export function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export interface MemoryGrowth {
  /** Median RSS over the first window after warm-up (MiB). */
  start: number;
  /** Median RSS over the last window (MiB). */
  end: number;
  max: number;
  growthPct: number;
  /** Least-squares slope over the samples after warm-up, MiB per hour. */
  slopeMiBPerHour: number;
}

/**
 * Memory growth after warm-up: medians of the first and last `window` samples after the warm-up cut
 * (medians, so one GC pause or one merge does not decide the figure), plus the trend's slope.
 */
export function memoryGrowth(samples: { t: number; mib: number }[], window = 3): MemoryGrowth | null {
  if (samples.length < 2) return null;
  const w = Math.max(1, Math.min(window, Math.floor(samples.length / 2)));
  const start = median(samples.slice(0, w).map((s) => s.mib));
  const end = median(samples.slice(-w).map((s) => s.mib));
  const n = samples.length;
  const mt = samples.reduce((a, s) => a + s.t, 0) / n;
  const mm = samples.reduce((a, s) => a + s.mib, 0) / n;
  const cov = samples.reduce((a, s) => a + (s.t - mt) * (s.mib - mm), 0);
  const varT = samples.reduce((a, s) => a + (s.t - mt) ** 2, 0);
  const slopePerMs = varT === 0 ? 0 : cov / varT;
  return {
    start,
    end,
    max: Math.max(...samples.map((s) => s.mib)),
    growthPct: start === 0 ? 0 : ((end - start) / start) * 100,
    slopeMiBPerHour: slopePerMs * 3600_000,
  };
}

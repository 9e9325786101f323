/**
 * The collector benches' load (autocannon, closed-loop connections): single pageviews from 1,000
 * visitors in turn, and what a run measured. Shared by collector-bench.ts and
 * collector-processes-bench.ts.
 */
import autocannon from 'autocannon';

export interface Run {
  /** 2xx answers per second: only acknowledged requests count. */
  rps: number;
  /** 2xx answers in all. */
  ok: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  statusCodes: Record<string, number>;
  /** CPU time of the collector process per acknowledged event (µs): what load on the machine hardly changes. */
  cpuUsPerEvent?: number;
}

/** One autocannon run of `seconds` (unless `opts.duration` says otherwise). */
export async function runLoad(seconds: number, opts: autocannon.Options): Promise<Run> {
  const r = await autocannon({ duration: seconds, ...opts });
  const statusCodes: Record<string, number> = {};
  for (const [code, s] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = s.count ?? 0;
  return {
    rps: r['2xx'] / r.duration,
    ok: r['2xx'],
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
    statusCodes,
  };
}

export const BENCH_UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

/**
 * Single events (POST /api/event, text/plain) for `site`: `body` is one of them; `requests` makes
 * autocannon send them from 1,000 visitors in turn. One visitor's events share a key, hence a
 * partition and a producer lane, so a bench with one visitor measures one partition, not the collector.
 */
export function singleEvents(site: string) {
  const body = JSON.stringify({
    site,
    name: 'pageview',
    url: `https://${site}/pricing?utm_source=newsletter`,
    referrer: 'https://www.google.com/',
    visitor_id: 'benchvisitor0000000001',
  });
  const visitors = 1000;
  const bodies = Array.from({ length: visitors }, (_, i) =>
    body.replace('benchvisitor0000000001', `benchvisitor${String(i).padStart(10, '0')}`),
  );
  let next = 0;
  const requests: autocannon.Request[] = [
    {
      setupRequest: (req) => {
        next = (next + 1) % visitors;
        return { ...req, body: bodies[next] };
      },
    },
  ];
  const headers = { 'content-type': 'text/plain', 'user-agent': BENCH_UA };
  return { body, requests, headers };
}

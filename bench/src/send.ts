/** Sends batches to the collector's POST /api/events, retrying on 429/503 as a careful sender would. */
import type { ServerEvent } from '@stint/collector/contract';

export interface SendResult {
  accepted: number;
  status: number;
}

export async function sendBatch(
  collectorUrl: string,
  token: string,
  site: string,
  events: ServerEvent[],
): Promise<SendResult> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${collectorUrl}/api/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ site, events }),
    });
    if ((res.status === 429 || res.status === 503) && attempt < 20) {
      const wait = Number(res.headers.get('retry-after') ?? '1');
      await new Promise((r) => setTimeout(r, Math.max(wait, 0.2) * 1000));
      continue;
    }
    if (!res.ok) throw new Error(`collector answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    return { accepted: events.length, status: res.status };
  }
}

/** Groups events by site and sends them in batches of at most `size`. */
export async function sendAll(
  collectorUrl: string,
  tokenFor: (site: string) => string,
  events: ServerEvent[],
  size = 500,
  onProgress?: (sent: number) => void,
): Promise<number> {
  const bySite = new Map<string, ServerEvent[]>();
  let sent = 0;
  const flush = async (site: string) => {
    const batch = bySite.get(site) ?? [];
    bySite.set(site, []);
    if (batch.length === 0) return;
    await sendBatch(collectorUrl, tokenFor(site), site, batch);
    sent += batch.length;
    onProgress?.(sent);
  };
  for (const e of events) {
    const list = bySite.get(e.site) ?? [];
    list.push(e);
    bySite.set(e.site, list);
    if (list.length >= size) await flush(e.site);
  }
  for (const site of [...bySite.keys()]) await flush(site);
  return sent;
}

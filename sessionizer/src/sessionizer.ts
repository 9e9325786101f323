/**
 * The sessionizer service: a Kafka consumer group feeding one pure `PartitionState` per assigned
 * partition, writing rows to ClickHouse in batches and committing offsets only for what is written.
 *
 * Exactly-once, in short: rows are deterministic (ids from events, versions from offsets) and written
 * idempotently; after a flush each partition commits its *commit point* — the first offset a replay
 * needs to rebuild its open visitor states — with the watermark input as commit metadata. On start,
 * rebalance or after a crash, a partition's state is rebuilt by replaying from that commit, which
 * rewrites the same rows with the same versions. See README.md for the argument.
 */
import type { ClickHouseClient } from '@stint/infra/clickhouse';
import type { Consumer, EachBatchPayload, Kafka } from '@stint/infra/kafka';
import type { Logger } from '@stint/infra/service';
import { ClickHouseSink } from './clickhouse-sink.ts';
import { decodeEvent } from './decode.ts';
import { addCounters, createMetrics, type Metrics } from './metrics.ts';
import { SiteSettingsCache } from './site-settings.ts';
import {
  type Counters,
  emptyCounters,
  PartitionState,
  type SourceRecord,
  stateConfig,
} from './state/index.ts';

export interface SessionizerDeps {
  kafka: Kafka;
  clickhouse: ClickHouseClient;
  database: string;
  /** The live events topic. */
  topic: string;
  /**
   * The imports topic (POST /api/import), consumed by the same group: its partitions have states of
   * their own, so an import's event time drives its own watermarks (see the README).
   */
  importsTopic?: string;
  groupId: string;
  log: Logger;
  latenessMs?: number;
  retentionMs?: number;
  retentionMessages?: number;
  siteSkewMs?: number;
  /** Flush at least this often (ms) … */
  flushIntervalMs?: number;
  /** … or when this many rows are buffered. */
  flushRows?: number;
  /** A caught-up partition without messages for this long advances its watermark by wall clock. */
  idleMs?: number;
  settingsRefreshMs?: number;
  /** Kafka group session timeout: how long a dead instance holds its partitions. */
  sessionTimeoutMs?: number;
  metrics?: Metrics;
  /** Wall clock (tests). */
  now?: () => number;
}

interface Partition {
  topic: string;
  partition: number;
  state: PartitionState;
  seen: Counters;
  committed: number;
  lastMessageAt: number;
  /** Wall-clock time of each site's last message in this partition (idle finalization is per site). */
  siteSeenAt: Map<string, number>;
  lastTickAt: number;
  /**
   * Whether the last batch reached the end of the partition. False from the first fetch of a replay
   * until it has caught up: an idle tick never runs in the middle of a replay.
   */
  caughtUp: boolean;
  lag: number;
}

/**
 * Commit metadata: the watermark input at the committed offset, and the offset before which every
 * message's rows were written (see `PartitionState`).
 */
interface CommitMeta {
  maxTs: number | null;
  sites: Record<string, number>;
  written: number;
}

/** Kafka's default `offset.metadata.max.bytes` is 4096. */
const MAX_METADATA_CHARS = 4000;

/**
 * The metadata of a commit point. Too many sites to fit: the sites with the oldest times are left
 * out (a replay then drags them along with the partition: later finality, no lost events).
 */
export function commitMetadata(point: {
  maxTs: number;
  sites: ReadonlyMap<string, number>;
  written: number;
}): string {
  const maxTs = Number.isFinite(point.maxTs) ? point.maxTs : null;
  const sites = [...point.sites].sort((a, b) => b[1] - a[1]);
  for (let n = sites.length; ; n = Math.floor(n / 2)) {
    const text = JSON.stringify({
      maxTs,
      written: point.written,
      sites: Object.fromEntries(sites.slice(0, n)),
    });
    if (text.length <= MAX_METADATA_CHARS || n === 0) return text;
  }
}

export function parseCommitMetadata(text: string): CommitMeta {
  const parsed = JSON.parse(text) as { maxTs?: unknown; sites?: unknown; written?: unknown };
  const sites: Record<string, number> = {};
  if (parsed.sites && typeof parsed.sites === 'object') {
    for (const [k, v] of Object.entries(parsed.sites)) if (typeof v === 'number') sites[k] = v;
  }
  // Metadata of earlier versions has no `written`: their commit points never needed a silent replay.
  const written = typeof parsed.written === 'number' ? parsed.written : 0;
  return { maxTs: typeof parsed.maxTs === 'number' ? parsed.maxTs : null, sites, written };
}

export interface Sessionizer {
  start(): Promise<void>;
  /** Stops consuming, flushes and commits. */
  stop(): Promise<void>;
  metrics: Metrics;
  /** Flushes buffered rows and commits now (tests, shutdown). */
  flush(): Promise<void>;
  status(): { partitions: number; buffered: number; clickhouseUp: boolean };
}

export function buildSessionizer(deps: SessionizerDeps): Sessionizer {
  const log = deps.log;
  const now = deps.now ?? Date.now;
  const metrics = deps.metrics ?? createMetrics();
  const flushIntervalMs = deps.flushIntervalMs ?? 1000;
  const flushRows = deps.flushRows ?? 100_000;
  const idleMs = deps.idleMs ?? 5000;
  const sites = new SiteSettingsCache(deps.clickhouse, deps.database);
  const config = stateConfig({
    latenessMs: deps.latenessMs,
    retentionMs: deps.retentionMs,
    retentionMessages: deps.retentionMessages,
    siteSkewMs: deps.siteSkewMs,
    settings: (site) => sites.get(site),
  });
  const sink = new ClickHouseSink(deps.clickhouse, deps.database, {
    onFlush: (ms, rows) => {
      metrics.flushSeconds.observe(ms / 1000);
      metrics.rowsWritten.inc({ table: 'events_raw' }, rows.events);
      metrics.rowsWritten.inc({ table: 'sessions_raw' }, rows.sessions);
    },
  });
  const topics = deps.importsTopic ? [deps.topic, deps.importsTopic] : [deps.topic];
  /** By `topic|partition`. */
  const partitions = new Map<string, Partition>();
  metrics.setGaugeSource(updateGauges);
  let generation = 0;
  let consumer: Consumer | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastFlush = now();
  /** The flush started by a batch and still writing, if any (one write in flight at a time). */
  let background: Promise<void> | null = null;
  let clickhouseUp = true;
  let stopping = false;
  let flushing: Promise<void> = Promise.resolve();
  let refresh: NodeJS.Timeout | undefined;

  async function committedMeta(
    topic: string,
    partition: number,
  ): Promise<{ offset: number; meta: CommitMeta }> {
    const admin = deps.kafka.admin();
    await admin.connect();
    try {
      const res = await admin.fetchOffsets({ groupId: deps.groupId, topics: [topic] });
      const p = res[0]?.partitions.find((x) => x.partition === partition);
      let meta: CommitMeta = { maxTs: null, sites: {}, written: 0 };
      if (p?.metadata) {
        try {
          meta = parseCommitMetadata(p.metadata);
        } catch {
          log.warn(
            { topic, partition, metadata: p.metadata },
            'unreadable commit metadata; watermark starts empty',
          );
        }
      }
      return { offset: p ? Number(p.offset) : -1, meta };
    } finally {
      await admin.disconnect();
    }
  }

  async function partitionFor(topic: string, partition: number, firstOffset: number): Promise<Partition> {
    const key = `${topic}|${partition}`;
    const existing = partitions.get(key);
    if (existing) return existing;
    const gen = generation;
    const { offset, meta } = await committedMeta(topic, partition);
    if (offset >= 0 && offset !== firstOffset) {
      log.warn(
        { topic, partition, committed: offset, firstOffset },
        'replay does not start at the commit point',
      );
    }
    const p: Partition = {
      topic,
      partition,
      state: new PartitionState(
        config,
        offset === firstOffset
          ? { maxTs: meta.maxTs, sites: Object.entries(meta.sites), written: meta.written }
          : { maxTs: null },
      ),
      seen: emptyCounters(),
      committed: offset,
      lastMessageAt: now(),
      siteSeenAt: new Map(),
      lastTickAt: 0,
      caughtUp: false,
      lag: 0,
    };
    if (gen === generation) partitions.set(key, p);
    log.info({ topic, partition, from: firstOffset, maxTs: meta.maxTs }, 'partition state rebuilt by replay');
    return p;
  }

  /** Flushes rows and commits every partition's commit point as of the moment the rows were taken. */
  function flushAndCommit(): Promise<void> {
    const run = async () => {
      const points = [...partitions.values()].map((p) => ({ p, point: p.state.commitPoint() }));
      const gen = generation;
      const started = now();
      try {
        await sink.flush();
      } catch (err) {
        metrics.flushErrors.inc();
        if (clickhouseUp) log.error({ err }, 'ClickHouse write failed; pausing until it is back');
        clickhouseUp = false;
        metrics.clickhouseUp.set(0);
        throw err;
      }
      if (!clickhouseUp) log.info('ClickHouse is back; resuming');
      clickhouseUp = true;
      metrics.clickhouseUp.set(1);
      lastFlush = started;
      const toCommit = points.filter(({ p, point }) => point.offset > p.committed);
      if (toCommit.length === 0 || !consumer || gen !== generation) return;
      try {
        await consumer.commitOffsets(
          toCommit.map(({ p, point }) => ({
            topic: p.topic,
            partition: p.partition,
            offset: String(point.offset),
            metadata: commitMetadata(point),
          })),
        );
        for (const { p, point } of toCommit) {
          p.committed = point.offset;
        }
      } catch (err) {
        // A rebalance is in progress: the partitions' next owners replay from the last commit.
        log.warn({ err }, 'offset commit failed');
      }
    };
    flushing = flushing.then(run, run);
    return flushing;
  }

  /** Retries the flush until ClickHouse takes it; consumption waits meanwhile (no crash loop). */
  async function flushUntilWritten(
    heartbeat?: () => Promise<void>,
    isRunning?: () => boolean,
  ): Promise<void> {
    let delay = 200;
    for (;;) {
      try {
        await flushAndCommit();
        return;
      } catch {
        if (stopping && !heartbeat) throw new Error('ClickHouse unavailable at shutdown');
        // A batch handler gives up when stopping: the final flush in `stop` tries once more.
        if (stopping || (isRunning && !isRunning())) return;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5000);
        await heartbeat?.().catch(() => undefined);
      }
    }
  }

  function updateGauges(): void {
    let open = 0;
    let visitors = 0;
    let held = 0;
    for (const p of partitions.values()) {
      const s = p.state.size();
      open += s.openSessions;
      visitors += s.visitors;
      held += s.events;
      metrics.lag.set({ topic: p.topic, partition: String(p.partition) }, p.lag);
    }
    metrics.openSessions.set(open);
    metrics.visitorStates.set(visitors);
    metrics.heldEvents.set(held);
  }

  /** Batch handlers running now: `stop` waits for them before its final flush. */
  let inBatch = 0;
  let batchDone: (() => void) | null = null;

  async function eachBatch(payload: EachBatchPayload) {
    if (stopping) return;
    inBatch++;
    try {
      await handleBatch(payload);
    } finally {
      inBatch--;
      if (inBatch === 0) batchDone?.();
    }
  }

  async function handleBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload) {
    if (batch.isEmpty()) return;
    const first = Number(batch.firstOffset());
    const p = await partitionFor(batch.topic, batch.partition, first);
    const records: SourceRecord[] = [];
    const siteIds = new Set<string>();
    for (const m of batch.messages) {
      const offset = Number(m.offset);
      if (offset < p.state.nextOffset) continue; // already in this state (a re-fetch)
      if (!m.value) continue;
      try {
        const event = decodeEvent(m.value);
        records.push({ offset, event });
        siteIds.add(event.site_id);
      } catch (err) {
        metrics.invalid.inc();
        log.warn(
          { topic: batch.topic, partition: batch.partition, offset, err: (err as Error).message },
          'skipping invalid message',
        );
      }
    }
    await sites.ensure(siteIds);
    if (!isRunning() || isStale() || stopping) return;
    for (const r of records) p.state.process(r);
    // Rows are built once per batch: the newest per session id and per event.
    sink.add(p.state.drain());
    const last = Number(batch.lastOffset());
    resolveOffset(batch.lastOffset());
    addCounters(metrics, p.state.counters, p.seen);
    p.lastMessageAt = now();
    for (const site of siteIds) p.siteSeenAt.set(site, p.lastMessageAt);
    p.lag = Math.max(0, Number(batch.highWatermark) - last - 1);
    p.caughtUp = p.lag === 0;
    if (sink.size >= flushRows || now() - lastFlush >= flushIntervalMs) {
      await flushBehind(heartbeat, isRunning);
    }
  }

  /**
   * Starts a flush and lets consumption go on while it writes: the next due flush first waits for
   * this one, so at most one write is in flight and the buffer stays bounded. After a failed write
   * the batch handler retries in place (consumption pauses) until ClickHouse is back.
   */
  async function flushBehind(heartbeat: () => Promise<void>, isRunning: () => boolean): Promise<void> {
    if (background) {
      await background;
      background = null;
    }
    if (!clickhouseUp) {
      await flushUntilWritten(heartbeat, isRunning);
      return;
    }
    // Counted from the start of the write, so a slow write does not make every batch wait for it.
    lastFlush = now();
    background = flushAndCommit().catch(() => undefined);
  }

  function onTimer(): void {
    if (stopping) return;
    const t = now();
    for (const p of partitions.values()) {
      // Only a caught-up partition (never in the middle of a replay), only for the sites without
      // messages for `idleMs`, at most once a second. A tick only sets `is_final`: no decision
      // (lateness, which session an event joins, eviction) ever depends on it.
      if (!p.caughtUp || t - p.lastTickAt < Math.min(idleMs, 1000)) continue;
      let anyIdle = false;
      for (const at of p.siteSeenAt.values()) if (t - at >= idleMs) anyIdle = true;
      if (!anyIdle) continue;
      p.lastTickAt = t;
      p.state.tick(t, (site) => t - (p.siteSeenAt.get(site) ?? 0) >= idleMs);
      sink.add(p.state.drain());
    }
    if (sink.size > 0 && t - lastFlush >= flushIntervalMs) {
      flushAndCommit().catch(() => undefined);
    }
  }

  return {
    metrics,
    async start() {
      await sites.refresh();
      consumer = deps.kafka.consumer({
        groupId: deps.groupId,
        sessionTimeout: deps.sessionTimeoutMs ?? 30_000,
        rebalanceTimeout: 60_000,
        heartbeatInterval: Math.min(1000, Math.floor((deps.sessionTimeoutMs ?? 30_000) / 3)),
        maxBytesPerPartition: 4 * 1024 * 1024,
      });
      // A new generation restarts every assigned partition from its committed offset: rebuild by replay.
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        generation++;
        partitions.clear();
        log.info(
          { assignment: e.payload.memberAssignment },
          'joined group; partition states rebuild by replay',
        );
      });
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: true });
      await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch });
      timer = setInterval(onTimer, Math.min(250, flushIntervalMs));
      refresh = setInterval(
        () => sites.refresh().catch((err) => log.warn({ err }, 'site settings refresh failed')),
        deps.settingsRefreshMs ?? 60_000,
      );
      refresh.unref();
    },
    async stop() {
      stopping = true;
      if (timer) clearInterval(timer);
      if (refresh) clearInterval(refresh);
      // The final flush commits while this instance is still a member of the group (kafkajs cannot
      // commit once the consumer is stopped): no new batch is processed, the one running finishes.
      if (inBatch > 0) await new Promise<void>((resolve) => (batchDone = resolve));
      await background;
      await flushUntilWritten().catch((err) =>
        log.error({ err }, 'final flush failed; rows will be replayed'),
      );
      if (consumer) await consumer.stop();
      if (consumer) await consumer.disconnect();
    },
    flush: () => flushAndCommit(),
    status: () => ({ partitions: partitions.size, buffered: sink.size, clickhouseUp }),
  };
}

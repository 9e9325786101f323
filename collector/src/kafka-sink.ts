/**
 * The Kafka producer behind a small interface: micro-batching, a bounded buffer, and a promise per
 * request that settles only when Kafka acknowledged its events with acks=all.
 *
 * kafkajs has no linger.ms, so the batching is ours: with `lingerMs` 0 (the default) a send leaves in
 * the next turn of the event loop, carrying everything published in this one; while a lane's send is
 * in flight its next batch fills up, which is what makes batches grow under load (up to
 * `maxBatchEvents`, and capped in bytes below the broker's message.max.bytes). When Kafka is slow or
 * down the buffer fills and `publish` fails fast with `SinkFullError` (the HTTP layer answers 503 +
 * Retry-After). A failed send rejects the requests it carried (they were never acknowledged, so
 * nothing acknowledged is lost) and the producer is rebuilt, because an idempotent producer's
 * sequence state is suspect after errors.
 *
 * Ordering and producers. The sink picks each message's partition itself (Kafka's default
 * partitioner, or the explicit partition of a cookieless visitor) and partition p always goes through
 * lane p % lanes. Each lane is one idempotent producer (its own connection) with one send in flight,
 * so a partition's messages reach Kafka in publish order, and kafkajs' internal retries cannot
 * duplicate or reorder them. Why not non-idempotent producers with several sends in flight? Duplicates
 * would be harmless (the sessionizer skips a repeated event_id, events_raw is a ReplacingMergeTree
 * by event_id), but (1) a retried request could overtake a later one, breaking per-visitor order, and
 * (2) it would buy little: the broker handles one request per connection at a time, so a second
 * request in flight on a connection waits at the broker instead of in our queue. Parallelism comes
 * from lanes (separate connections). Measured on 2 cores shared with the broker: every kafkajs send
 * costs a fixed ~0.2–1 ms of CPU on top of ~15 µs per message, so more lanes mean smaller sends and
 * more CPU per event; 3 lanes for 6 partitions did best (6 lanes was worst in every round).
 */
import { type Kafka, Partitioners, type Producer } from 'kafkajs';
import { unacknowledgedPartitions } from './kafka-acks.ts';
import { type KafkaFailure, kafkaFailure } from './kafka-errors.ts';

export interface SinkMessage {
  key: string;
  value: Buffer;
  /** Set for cookieless visitors (stable across salt rotation); otherwise the key decides. */
  partition?: number;
}

export interface EventSink {
  /** Resolves once every message is acknowledged by Kafka. */
  publish(messages: SinkMessage[]): Promise<void>;
  /** Events buffered or in flight. */
  depth(): number;
  ready(): boolean;
  /** Partition count of the topic, known after `start`. */
  partitions(): number;
  start(): Promise<void>;
  /** Stops accepting, sends what is buffered, disconnects. */
  close(): Promise<void>;
}

export class SinkFullError extends Error {
  constructor() {
    super('event buffer is full');
  }
}
export class SinkUnavailableError extends Error {
  /** `not_enough_replicas`: Kafka is up but has fewer in-sync replicas than min.insync.replicas. */
  constructor(
    message: string,
    readonly reason: KafkaFailure = 'unavailable',
  ) {
    super(message);
  }
}
export class SinkClosedError extends Error {
  constructor() {
    super('collector is shutting down');
  }
}

export interface SinkObserver {
  sent?(seconds: number, events: number, ok: boolean): void;
  error?(err: unknown): void;
}

export interface KafkaSinkOptions {
  kafka: Kafka;
  topic: string;
  /** Events buffered or in flight before publish answers SinkFullError. */
  maxBufferEvents?: number;
  maxBatchEvents?: number;
  /** Bytes of message values per send; below the broker's 1 MiB message.max.bytes. */
  maxBatchBytes?: number;
  lingerMs?: number;
  /** Producers working in parallel. */
  lanes?: number;
  /** A send that has not been acknowledged by then fails its requests (503). */
  sendTimeoutMs?: number;
  observer?: SinkObserver;
}

interface Entry {
  messages: SinkMessage[];
  bytes: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Kafka's default partitioner for a key: murmur2 of its UTF-8 bytes, as the Java client and kafkajs'
 * DefaultPartitioner compute it (kafkajs does it with 64-bit Long objects, a measurable share of its
 * CPU; only the low 32 bits matter, so Math.imul gives the same result). Keys are ASCII (site and
 * visitor id are restricted to it), read straight from the string; anything else goes through a Buffer.
 */
export function murmur2(key: string): number {
  const M = 0x5bd1e995;
  let ascii = true;
  for (let i = 0; i < key.length; i++) {
    if (key.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  const data = ascii ? null : Buffer.from(key, 'utf8');
  const at = data === null ? (i: number) => key.charCodeAt(i) : (i: number) => data[i] as number;
  const length = data === null ? key.length : data.length;
  let h = (0x9747b28c ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = at(i4) | (at(i4 + 1) << 8) | (at(i4 + 2) << 16) | (at(i4 + 3) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & ~3;
  const rest = length & 3;
  if (rest === 3) h ^= at(tail + 2) << 16;
  if (rest >= 2) h ^= at(tail + 1) << 8;
  if (rest >= 1) {
    h ^= at(tail);
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition Kafka's default partitioner picks for a key. */
export function partitionForKey(key: string, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

export function createKafkaSink(options: KafkaSinkOptions): EventSink {
  const maxBuffer = options.maxBufferEvents ?? 20_000;
  const maxBatch = options.maxBatchEvents ?? 1_000;
  const maxBatchBytes = options.maxBatchBytes ?? 768 * 1024;
  const lingerMs = options.lingerMs ?? 0;
  const sendTimeoutMs = options.sendTimeoutMs ?? 10_000;
  const laneCount = Math.max(1, options.lanes ?? 3);
  const { kafka, topic, observer } = options;

  let partitionCount = 0;
  let closing = false;
  /** Events buffered or in flight, over all lanes. */
  let depth = 0;

  const newProducer = () =>
    kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      // Fail within seconds instead of retrying for ever: waiting requests get a 503, not a hang.
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
    });

  class Lane {
    producer: Producer | null = null;
    connecting: Promise<Producer> | null = null;
    healthy = false;
    queue: Entry[] = [];
    queuedEvents = 0;
    queuedBytes = 0;
    sending: Promise<void> | null = null;
    timer: NodeJS.Timeout | NodeJS.Immediate | null = null;

    clearTimer(): void {
      if (this.timer === null) return;
      if (lingerMs > 0) clearTimeout(this.timer as NodeJS.Timeout);
      else clearImmediate(this.timer as NodeJS.Immediate);
      this.timer = null;
    }

    async connect(): Promise<Producer> {
      if (this.producer !== null) return this.producer;
      this.connecting ??= (async () => {
        const p = newProducer();
        try {
          await p.connect();
        } catch (err) {
          await p.disconnect().catch(() => {});
          throw err;
        }
        this.producer = p;
        return p;
      })().finally(() => {
        this.connecting = null;
      });
      return this.connecting;
    }

    recovering = false;

    /** After a failure: a fresh producer (sequence state is suspect), and reconnect attempts in the background. */
    drop(): void {
      const p = this.producer;
      this.producer = null;
      this.healthy = false;
      if (p !== null) void p.disconnect().catch(() => {});
      if (!this.recovering) void this.recover();
    }

    /** Readiness must come back even if no traffic reaches this lane (a load balancer may be waiting for it). */
    async recover(): Promise<void> {
      this.recovering = true;
      try {
        while (!this.healthy && !closing) {
          await new Promise((r) => setTimeout(r, 500));
          try {
            await this.connect();
            this.healthy = true;
          } catch {
            // still down
          }
        }
      } finally {
        this.recovering = false;
      }
    }

    push(entry: Entry): void {
      this.queue.push(entry);
      this.queuedEvents += entry.messages.length;
      this.queuedBytes += entry.bytes;
      this.schedule();
    }

    schedule(): void {
      if (this.sending !== null) return; // the running loop takes the queue when its send returns
      if (this.queuedEvents >= maxBatch || this.queuedBytes >= maxBatchBytes) {
        this.clearTimer();
        this.sending = this.loop();
        return;
      }
      if (this.timer !== null) return;
      const fire = () => {
        this.timer = null;
        if (this.sending === null) this.sending = this.loop();
      };
      // Linger 0: everything that arrived in this turn of the event loop goes in one send.
      this.timer = lingerMs > 0 ? setTimeout(fire, lingerMs) : setImmediate(fire);
    }

    async loop(): Promise<void> {
      try {
        while (this.queue.length > 0) {
          const batch: Entry[] = [];
          let n = 0;
          let bytes = 0;
          for (;;) {
            const next = this.queue[0];
            if (next === undefined) break;
            if (
              batch.length > 0 &&
              (n + next.messages.length > maxBatch || bytes + next.bytes > maxBatchBytes)
            )
              break;
            this.queue.shift();
            batch.push(next);
            n += next.messages.length;
            bytes += next.bytes;
          }
          this.queuedEvents -= n;
          this.queuedBytes -= bytes;
          await this.send(batch, n);
          depth -= n;
          // Shutting down and Kafka just failed a send: the rest would each wait out the send deadline
          // too, past the shutdown timeout. They fail now (503, never acknowledged), so a drain while
          // Kafka is down takes one deadline per lane, not one per queued batch.
          if (closing && !this.healthy)
            this.failQueued(new SinkUnavailableError('Kafka unavailable at shutdown'));
        }
      } finally {
        this.sending = null;
      }
    }

    failQueued(err: Error): void {
      const queued = this.queue;
      this.queue = [];
      depth -= this.queuedEvents;
      this.queuedEvents = 0;
      this.queuedBytes = 0;
      for (const e of queued) e.reject(err);
    }

    async send(batch: Entry[], n: number): Promise<void> {
      const started = performance.now();
      let timeout: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timeout = setTimeout(
          () => reject(new SinkUnavailableError('Kafka did not acknowledge in time')),
          sendTimeoutMs,
        );
      });
      const attempt = async () => {
        const p = await this.connect();
        const messages = batch.flatMap((e) => e.messages);
        const answers = await p.send({ topic, acks: -1, timeout: sendTimeoutMs, messages });
        // kafkajs can resolve a send that skipped a partition whose leader moved (kafka-acks.ts).
        const missing = unacknowledgedPartitions(topic, messages, answers);
        if (missing.length > 0) {
          throw new SinkUnavailableError(
            `no acknowledgement for partition${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (leader change during the send)`,
          );
        }
      };
      try {
        // The deadline covers connecting too: kafkajs retries a refused connection for many seconds.
        await Promise.race([attempt(), deadline]);
        this.healthy = true;
        observer?.sent?.((performance.now() - started) / 1000, n, true);
        for (const e of batch) e.resolve();
      } catch (err) {
        observer?.sent?.((performance.now() - started) / 1000, n, false);
        observer?.error?.(err);
        this.drop();
        const reason = kafkaFailure(err);
        const failure = new SinkUnavailableError(
          reason === 'not_enough_replicas'
            ? `Kafka has fewer in-sync replicas than min.insync.replicas: ${(err as Error).message}`
            : `Kafka unavailable: ${(err as Error).message}`,
          reason,
        );
        for (const e of batch) e.reject(failure);
      } finally {
        clearTimeout(timeout);
      }
    }
  }

  const lanes = Array.from({ length: laneCount }, () => new Lane());

  const enqueue = (lane: Lane, messages: SinkMessage[]): Promise<void> => {
    // Chunks small enough for one produce request; a request's promise waits for all of its chunks.
    const chunks: Promise<void>[] = [];
    let chunk: SinkMessage[] = [];
    let bytes = 0;
    const flush = () => {
      const entryMessages = chunk;
      const entryBytes = bytes;
      chunks.push(
        new Promise<void>((resolve, reject) =>
          lane.push({ messages: entryMessages, bytes: entryBytes, resolve, reject }),
        ),
      );
      chunk = [];
      bytes = 0;
    };
    for (const m of messages) {
      const size = m.value.length + m.key.length + 64;
      if (chunk.length > 0 && (bytes + size > maxBatchBytes || chunk.length >= maxBatch)) flush();
      chunk.push(m);
      bytes += size;
    }
    if (chunk.length > 0) flush();
    return chunks.length === 1 ? (chunks[0] as Promise<void>) : Promise.all(chunks).then(() => {});
  };

  return {
    publish(messages) {
      if (closing) return Promise.reject(new SinkClosedError());
      if (messages.length === 0) return Promise.resolve();
      if (depth + messages.length > maxBuffer) return Promise.reject(new SinkFullError());
      depth += messages.length;
      if (messages.length === 1) {
        // One event per request is the common case: no grouping by lane, one entry, one promise.
        const m = messages[0] as SinkMessage;
        if (m.partition === undefined && partitionCount > 0)
          m.partition = partitionForKey(m.key, partitionCount);
        const lane = lanes[m.partition === undefined ? 0 : m.partition % laneCount] as Lane;
        const bytes = m.value.length + m.key.length + 64;
        return new Promise<void>((resolve, reject) => lane.push({ messages, bytes, resolve, reject }));
      }
      const byLane = new Map<Lane, SinkMessage[]>();
      for (const m of messages) {
        // The partition is fixed here (Kafka's default partitioner, on the count known at start), so
        // kafkajs does not hash again, and a partition always goes through the same lane: its
        // messages leave in the order they were published, one send in flight at a time.
        if (m.partition === undefined && partitionCount > 0)
          m.partition = partitionForKey(m.key, partitionCount);
        const lane = lanes[m.partition === undefined ? 0 : m.partition % laneCount] as Lane;
        const list = byLane.get(lane);
        if (list) list.push(m);
        else byLane.set(lane, [m]);
      }
      const waits = [...byLane].map(([lane, list]) => enqueue(lane, list));
      return waits.length === 1 ? (waits[0] as Promise<void>) : Promise.all(waits).then(() => {});
    },
    depth: () => depth,
    ready: () => !closing && lanes.every((l) => l.healthy),
    partitions: () => partitionCount,
    async start() {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const meta = await admin.fetchTopicMetadata({ topics: [topic] });
        partitionCount = meta.topics[0]?.partitions.length ?? 0;
      } finally {
        await admin.disconnect();
      }
      if (partitionCount < 1) throw new Error(`topic ${topic} has no partitions`);
      await Promise.all(lanes.map((l) => l.connect()));
      for (const l of lanes) l.healthy = true;
    },
    async close() {
      closing = true;
      await Promise.all(
        lanes.map(async (l) => {
          l.clearTimer();
          while (l.queue.length > 0 || l.sending !== null) {
            if (l.sending === null) l.sending = l.loop();
            await l.sending;
          }
          // A background reconnect may still be pending: let it settle so its producer is closed too.
          await l.connecting?.catch(() => {});
          const p = l.producer;
          l.producer = null;
          l.healthy = false;
          if (p !== null) await p.disconnect();
        }),
      );
    },
  };
}

/**
 * The Kafka producer behind a small interface: micro-batching, a bounded buffer, and a promise per
 * request that settles only when Kafka acknowledged its events with acks=all.
 *
 * kafkajs has no linger.ms, so the batching is ours: events wait at most `lingerMs` (or until
 * `maxBatchEvents` are queued) and go out in one produce request. One send is in flight at a time
 * (idempotent producers need that for ordering); while it is in flight the next batch fills up, which
 * is what makes the batches grow under load. When Kafka is slow or down the buffer fills and
 * `publish` fails fast with `SinkFullError` (the HTTP layer answers 503 + Retry-After). A failed send
 * rejects the requests it carried (they were never acknowledged, so nothing acknowledged is lost) and
 * the producer is rebuilt, because an idempotent producer's sequence state is suspect after errors.
 */
import { type Kafka, Partitioners, type Producer } from 'kafkajs';

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
export class SinkUnavailableError extends Error {}
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
  lingerMs?: number;
  /** A send that has not been acknowledged by then fails its requests (503). */
  sendTimeoutMs?: number;
  observer?: SinkObserver;
}

interface Entry {
  messages: SinkMessage[];
  resolve: () => void;
  reject: (err: Error) => void;
}

export function createKafkaSink(options: KafkaSinkOptions): EventSink {
  const maxBuffer = options.maxBufferEvents ?? 20_000;
  const maxBatch = options.maxBatchEvents ?? 2_000;
  const lingerMs = options.lingerMs ?? 2;
  const sendTimeoutMs = options.sendTimeoutMs ?? 10_000;
  const { kafka, topic, observer } = options;

  let producer: Producer | null = null;
  let connecting: Promise<Producer> | null = null;
  let partitionCount = 0;
  let healthy = false;
  let closing = false;
  const queue: Entry[] = [];
  let queued = 0;
  let inFlight = 0;
  let sending: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;

  const newProducer = () =>
    kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      // Fail within seconds instead of retrying for ever: waiting requests get a 503, not a hang.
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
    });

  async function connect(): Promise<Producer> {
    if (producer !== null) return producer;
    connecting ??= (async () => {
      const p = newProducer();
      try {
        await p.connect();
      } catch (err) {
        await p.disconnect().catch(() => {});
        throw err;
      }
      producer = p;
      return p;
    })().finally(() => {
      connecting = null;
    });
    return connecting;
  }

  function dropProducer(): void {
    const p = producer;
    producer = null;
    healthy = false;
    if (p !== null) void p.disconnect().catch(() => {});
  }

  function schedule(): void {
    if (sending !== null) return; // the running loop picks the queue up when its send returns
    if (queued >= maxBatch) {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      sending = loop();
      return;
    }
    timer ??= setTimeout(() => {
      timer = null;
      if (sending === null) sending = loop();
    }, lingerMs);
  }

  async function loop(): Promise<void> {
    try {
      while (queue.length > 0) {
        const batch: Entry[] = [];
        let n = 0;
        while (queue.length > 0 && (n === 0 || n + (queue[0]?.messages.length ?? 0) <= maxBatch)) {
          const e = queue.shift() as Entry;
          batch.push(e);
          n += e.messages.length;
        }
        queued -= n;
        inFlight = n;
        await sendBatch(batch, n);
        inFlight = 0;
      }
    } finally {
      sending = null;
      inFlight = 0;
    }
  }

  async function sendBatch(batch: Entry[], n: number): Promise<void> {
    const started = performance.now();
    let timeout: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timeout = setTimeout(
        () => reject(new SinkUnavailableError('Kafka did not acknowledge in time')),
        sendTimeoutMs,
      );
    });
    const attempt = async () => {
      const p = await connect();
      await p.send({ topic, acks: -1, timeout: sendTimeoutMs, messages: batch.flatMap((e) => e.messages) });
    };
    try {
      // The deadline covers connecting too: kafkajs retries a refused connection for many seconds.
      await Promise.race([attempt(), deadline]);
      healthy = true;
      observer?.sent?.((performance.now() - started) / 1000, n, true);
      for (const e of batch) e.resolve();
    } catch (err) {
      observer?.sent?.((performance.now() - started) / 1000, n, false);
      observer?.error?.(err);
      dropProducer();
      const failure = new SinkUnavailableError(`Kafka unavailable: ${(err as Error).message}`);
      for (const e of batch) e.reject(failure);
    } finally {
      clearTimeout(timeout);
    }
  }

  return {
    publish(messages) {
      if (closing) return Promise.reject(new SinkClosedError());
      if (messages.length === 0) return Promise.resolve();
      if (queued + inFlight + messages.length > maxBuffer) return Promise.reject(new SinkFullError());
      return new Promise<void>((resolve, reject) => {
        queue.push({ messages, resolve, reject });
        queued += messages.length;
        schedule();
      });
    },
    depth: () => queued + inFlight,
    ready: () => healthy && !closing,
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
      await connect();
      healthy = true;
    },
    async close() {
      closing = true;
      if (timer !== null) {
        clearTimeout(timer);
        timer = null;
      }
      while (queue.length > 0 || sending !== null) {
        if (sending === null) sending = loop();
        await sending;
      }
      const p = producer;
      producer = null;
      healthy = false;
      if (p !== null) await p.disconnect();
    },
  };
}

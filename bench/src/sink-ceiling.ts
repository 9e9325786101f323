/**
 * The collector's Kafka sink alone: the product's `createKafkaSink` (same lanes, batching and
 * acks=all as the collector), fed with events already validated, enriched and encoded, by closed-loop
 * publishers that each wait for their acknowledgement like an HTTP client would. No HTTP, no
 * validation, no enrichment: what the collector could do at most with kafkajs on this machine.
 * Run by bench/collector in a process of its own (a core of its own, like the collector);
 * `npx tsx bench/src/sink-ceiling.ts --topic T [--seconds 10] [--publishers 8] [--events 500]`.
 * Prints one JSON line: `{ eventsPerSecond, cpuUsPerEvent, sends, meanEventsPerSend }`.
 */
import { parseArgs } from 'node:util';
import { encodeKafkaEvent, type KafkaEvent, kafkaKey } from '@stint/collector/contract';
import { createKafkaSink, type SinkMessage } from '@stint/collector/kafka-sink';
import { createKafka, ensureTopic } from '@stint/infra/kafka';

const { values } = parseArgs({
  options: {
    topic: { type: 'string' },
    seconds: { type: 'string', default: '10' },
    /** Concurrent publishers, each with one publish in flight (like HTTP connections). */
    publishers: { type: 'string', default: '8' },
    /** Events per publish (1: single-event requests; 500: the bench's batches). */
    events: { type: 'string', default: '500' },
  },
});
if (values.topic === undefined) throw new Error('--topic is required');
const topic = values.topic;
const seconds = Number(values.seconds);
const publishers = Number(values.publishers);
const perPublish = Number(values.events);

/** An enriched page view as the collector produces it, for visitor `i`. */
function event(i: number): KafkaEvent {
  const now = Date.now();
  return {
    v: 1,
    event_id: crypto.randomUUID(),
    site_id: 'bench.example',
    visitor_id: `benchvisitor${String(i).padStart(10, '0')}`,
    prev_visitor_id: null,
    ts: now,
    received_at: now,
    name: 'pageview',
    url: 'https://bench.example/pricing?utm_source=newsletter',
    path: '/pricing',
    hostname: 'bench.example',
    referrer: 'https://www.google.com/',
    referrer_host: 'www.google.com',
    source: 'Google',
    medium: 'organic',
    channel: 'search',
    campaign: '',
    utm_source: 'newsletter',
    utm_medium: '',
    utm_campaign: '',
    utm_content: '',
    utm_term: '',
    engaged_ms: 0,
    scroll_depth: 0,
    props: {},
    country: 'DE',
    region: '',
    browser: 'Chrome',
    os: 'Windows',
    device: 'desktop',
  };
}

// 1,000 visitors, as in bench/collector: their keys spread over every partition and lane.
const messages: SinkMessage[] = Array.from({ length: 1000 }, (_, i) => {
  const e = event(i);
  return { key: kafkaKey(e), value: encodeKafkaEvent(e) };
});

let sends = 0;
let sentEvents = 0;
const kafka = createKafka({ clientId: 'bench-sink-ceiling' });
await ensureTopic(kafka, topic, 6); // bench/collector's topic (created there already): kept as it is
const sink = createKafkaSink({
  kafka,
  topic,
  observer: {
    sent: (_s, events, ok) => {
      if (!ok) return;
      sends++;
      sentEvents += events;
    },
  },
});
await sink.start();

let acknowledged = 0;
let next = 0;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const until = t0 + seconds * 1000;
await Promise.all(
  Array.from({ length: publishers }, async () => {
    while (performance.now() < until) {
      const batch: SinkMessage[] = [];
      for (let k = 0; k < perPublish; k++) {
        next = (next + 1) % messages.length;
        batch.push(messages[next] as SinkMessage);
      }
      await sink.publish(batch);
      acknowledged += batch.length;
    }
  }),
);
const elapsed = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
await sink.close();
process.stdout.write(
  `${JSON.stringify({
    eventsPerSecond: acknowledged / elapsed,
    cpuUsPerEvent: (cpu.user + cpu.system) / Math.max(1, acknowledged),
    sends,
    meanEventsPerSend: sentEvents / Math.max(1, sends),
  })}\n`,
);
process.exit(0);

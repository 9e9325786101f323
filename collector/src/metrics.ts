/** Prometheus metrics of one collector instance (own registry, so tests can build several apps). */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface CollectorMetrics {
  registry: Registry;
  requests: Counter<'route' | 'status'>;
  accepted: Counter<'endpoint'>;
  rejected: Counter<'reason'>;
  dropped: Counter<'reason'>;
  kafkaSend: Histogram<'outcome'>;
  kafkaBatch: Histogram;
  bufferDepth: Gauge;
  processes: Gauge;
}

export function createMetrics(depth: () => number): CollectorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'stint_collector_' });
  return {
    registry,
    requests: new Counter({
      name: 'stint_collector_requests_total',
      help: 'HTTP requests by route and status code',
      labelNames: ['route', 'status'],
      registers: [registry],
    }),
    accepted: new Counter({
      name: 'stint_collector_events_accepted_total',
      help: 'Events acknowledged by Kafka',
      labelNames: ['endpoint'],
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'stint_collector_rejects_total',
      help: 'Rejected requests by reason (invalid_field, unknown_site, body_too_large, rate_limited, buffer_full, …)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    dropped: new Counter({
      name: 'stint_collector_events_dropped_total',
      help: 'Events dropped on purpose (bots, headless browsers)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    kafkaSend: new Histogram({
      name: 'stint_collector_kafka_send_seconds',
      help: 'Time from sending a batch to Kafka until it is acknowledged (acks=all)',
      labelNames: ['outcome'],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    kafkaBatch: new Histogram({
      name: 'stint_collector_kafka_batch_events',
      help: 'Events per produce request',
      buckets: [1, 5, 10, 50, 100, 250, 500, 1000, 2000],
      registers: [registry],
    }),
    bufferDepth: new Gauge({
      name: 'stint_collector_buffer_events',
      help: 'Events buffered or in flight to Kafka',
      registers: [registry],
      collect() {
        this.set(depth());
      },
    }),
    // 1 per process; summed over the workers when /metrics aggregates a cluster (cluster.ts).
    processes: new Gauge({
      name: 'stint_collector_processes',
      help: 'Collector processes whose metrics this scrape includes',
      aggregator: 'sum',
      registers: [registry],
      collect() {
        this.set(1);
      },
    }),
  };
}

import { describe, expect, it } from 'vitest';
import { createMetrics } from '../src/metrics.ts';

describe('sessionizer metrics', () => {
  it('expose the process metrics (CPU, heap, event-loop lag) beside the pipeline counters', async () => {
    const m = createMetrics();
    m.events.inc(3);
    const text = await m.registry.metrics();
    expect(text).toMatch(/^stint_sessionizer_events_total 3$/m);
    expect(text).toMatch(/^stint_sessionizer_process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^stint_sessionizer_nodejs_heap_size_used_bytes \d/m);
    expect(text).toContain('stint_sessionizer_nodejs_eventloop_lag_p99_seconds');
  });
});

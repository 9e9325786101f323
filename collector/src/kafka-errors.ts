/**
 * Why a Kafka send failed, from kafkajs' error (pure; the sink turns it into the 503 the client gets).
 *
 * kafkajs gives up with KafkaJSNumberOfRetriesExceeded, whose `cause` is the broker's answer, a
 * KafkaJSProtocolError with the protocol `type`. NOT_ENOUGH_REPLICAS (19: nothing written, fewer
 * in-sync replicas than the topic's min.insync.replicas) and NOT_ENOUGH_REPLICAS_AFTER_APPEND (20:
 * written to the leader, but the ISR shrank below it before the ack) both mean the events are not
 * durable as acks=all promises, so the request is refused, never acknowledged.
 */
export type KafkaFailure = 'not_enough_replicas' | 'unavailable';

const NOT_ENOUGH_REPLICAS = new Set(['NOT_ENOUGH_REPLICAS', 'NOT_ENOUGH_REPLICAS_AFTER_APPEND']);
const NOT_ENOUGH_REPLICAS_CODES = new Set([19, 20]);

export function kafkaFailure(err: unknown): KafkaFailure {
  let e: unknown = err;
  for (let depth = 0; depth < 8 && typeof e === 'object' && e !== null; depth++) {
    const { type, code, cause } = e as { type?: unknown; code?: unknown; cause?: unknown };
    if (typeof type === 'string' && NOT_ENOUGH_REPLICAS.has(type)) return 'not_enough_replicas';
    if (typeof code === 'number' && NOT_ENOUGH_REPLICAS_CODES.has(code)) return 'not_enough_replicas';
    e = cause;
  }
  return 'unavailable';
}

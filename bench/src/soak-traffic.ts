/**
 * Steady live traffic for the soak: realistic visits (bench/src/visits.ts) played out in wall-clock
 * time, compressed by `timeScale` (0.1: a 5-minute read lasts 30 s), with returning visitors. The
 * caller asks for `budget` events per tick; events that are due go first, and new visits start when
 * too few are due, so the rate holds while the number of visits in flight finds its own level.
 * Events are stamped `ts = now` when taken: the soak measures a live pipeline, not an import.
 */
import type { ServerEvent } from '@stint/collector/contract';
import type { Random } from '@stint/infra/testing';
import { makeVisit, makeVisitor, type Visitor } from './visits.ts';

interface ActiveVisit {
  visitor: Visitor;
  events: ServerEvent[];
  /** Wall-clock time each event is due (ms). */
  due: number[];
  next: number;
}

export interface TakenEvent {
  event: ServerEvent;
  /** From a bot: the collector drops it (so it never reaches events_raw). */
  bot: boolean;
}

export class SteadyTraffic {
  private active: ActiveVisit[] = [];
  /** Past visitors who may come back; bounded so the generator itself does not grow. */
  private returning: Visitor[] = [];
  private readonly busy = new Set<string>();
  visitsStarted = 0;

  constructor(
    private readonly rng: Random,
    private readonly options: { timeScale: number; returningShare: number; maxReturning?: number },
  ) {}

  get visitsInFlight(): number {
    return this.active.length;
  }

  private startVisit(now: number): ActiveVisit {
    const rng = this.rng;
    let visitor: Visitor | undefined;
    let returning = false;
    if (this.returning.length > 0 && rng.chance(this.options.returningShare)) {
      const i = rng.int(0, this.returning.length - 1);
      const candidate = this.returning[i];
      if (candidate && !this.busy.has(candidate.visitorId)) {
        visitor = candidate;
        returning = true;
      }
    }
    visitor ??= makeVisitor(rng);
    const events = makeVisit(rng, visitor, 0, returning);
    const visit: ActiveVisit = {
      visitor,
      events,
      due: events.map((e) => now + Math.round(Number(e.ts) * this.options.timeScale)),
      next: 0,
    };
    this.busy.add(visitor.visitorId);
    this.active.push(visit);
    this.visitsStarted++;
    return visit;
  }

  private finish(visit: ActiveVisit): void {
    this.busy.delete(visit.visitor.visitorId);
    const max = this.options.maxReturning ?? 20_000;
    if (this.returning.length < max) this.returning.push(visit.visitor);
    else this.returning[this.rng.int(0, max - 1)] = visit.visitor;
  }

  /** Up to `budget` events for now: due events (oldest first), then first events of new visits. */
  take(budget: number, now: number): TakenEvent[] {
    const out: TakenEvent[] = [];
    const due: ActiveVisit[] = this.active.filter((v) => (v.due[v.next] ?? Infinity) <= now);
    due.sort((a, b) => (a.due[a.next] ?? 0) - (b.due[b.next] ?? 0));
    const emit = (v: ActiveVisit) => {
      const e = v.events[v.next];
      if (!e) return;
      out.push({ event: { ...e, ts: now }, bot: v.visitor.bot });
      v.next++;
    };
    // One event per visit per tick keeps each visitor's events in order across batches.
    for (const v of due) {
      if (out.length >= budget) break;
      emit(v);
    }
    while (out.length < budget) emit(this.startVisit(now));
    const still: ActiveVisit[] = [];
    for (const v of this.active) {
      if (v.next < v.events.length) still.push(v);
      else this.finish(v);
    }
    this.active = still;
    return out;
  }
}

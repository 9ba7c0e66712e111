import type { Logger } from 'pino';
import type { EventsRepo } from '../store/events-repo.js';

/** Deletes old pod events on a timer: older than maxAgeS, or beyond the newest maxCount. */
export class EventPruner {
  readonly #o: { repo: EventsRepo; maxAgeS: number; maxCount: number; intervalMs: number; log: Logger; now?: () => Date };
  #timer: NodeJS.Timeout | undefined;

  constructor(o: { repo: EventsRepo; maxAgeS: number; maxCount: number; intervalMs: number; log: Logger; now?: () => Date }) {
    this.#o = o;
  }

  /** One pass now; returns how many events were deleted. */
  runOnce(): number {
    const now = this.#o.now?.() ?? new Date();
    try {
      const n = this.#o.repo.prune(new Date(now.getTime() - this.#o.maxAgeS * 1000).toISOString(), this.#o.maxCount);
      if (n) this.#o.log.info({ pruned: n }, 'old pod events pruned');
      return n;
    } catch (err) {
      this.#o.log.warn({ err: (err as Error).message }, 'pruning pod events failed; retried next interval');
      return 0;
    }
  }

  start(): void {
    this.runOnce();
    this.#timer = setInterval(() => this.runOnce(), this.#o.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

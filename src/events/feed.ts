import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { PodTransition } from '../pods/transitions.js';
import type { EventsRepo, PodEvent } from '../store/events-repo.js';

/**
 * The pod event feed: every transition the pod service reports (including the ones its event
 * watcher saw in the engine's own stream: exits, `docker kill`, OOM) is stored with the next
 * sequence number and then announced to live subscribers, in the same tick. Because the store
 * is synchronous, a reader that pages the store and subscribes in one tick sees every event
 * exactly once (stream.ts relies on this).
 */
export class EventFeed {
  readonly #repo: EventsRepo;
  readonly #log: Logger;
  readonly #now: () => Date;
  readonly #bus = new EventEmitter();

  constructor(o: { repo: EventsRepo; log: Logger; now?: () => Date }) {
    this.#repo = o.repo;
    this.#log = o.log;
    this.#now = o.now ?? (() => new Date());
    // One listener per connected stream client.
    this.#bus.setMaxListeners(0);
  }

  /** The pod service's transitions sink. Never throws: it runs inside the operation that made the transition. */
  record(t: PodTransition): PodEvent | undefined {
    let e: PodEvent;
    try {
      e = this.#repo.insert({ podId: t.podId, podName: t.podName, type: t.type, time: this.#now().toISOString(), details: t.details });
    } catch (err) {
      this.#log.error({ podId: t.podId, type: t.type, err: (err as Error).message }, 'pod event could not be stored; it is lost');
      return undefined;
    }
    this.#bus.emit('event', e);
    return e;
  }

  list(after: number, limit: number, podId?: string): PodEvent[] {
    return this.#repo.list(after, limit, podId);
  }

  oldestSeq(): number | null {
    return this.#repo.oldestSeq();
  }

  latestSeq(): number {
    return this.#repo.latestSeq();
  }

  /** Live events; returns the unsubscribe function. */
  subscribe(fn: (e: PodEvent) => void): () => void {
    this.#bus.on('event', fn);
    return () => this.#bus.off('event', fn);
  }
}

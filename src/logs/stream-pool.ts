import type { PodTransition } from '../pods/transitions.js';
import { SharedLogStream, type LogSubscriber, type LogSubscription, type SharedLogStreamDeps } from './shared-stream.js';
import type { EndReason } from './types.js';

/** Transitions after which a pod's container no longer writes logs. */
const ENDING: Partial<Record<PodTransition['type'], EndReason>> = {
  stopped: 'stopped',
  exited: 'stopped',
  'oom-killed': 'stopped',
  failed: 'stopped',
  deleted: 'deleted',
};

/** The pool hands its options to every stream it creates, so they are the streams' deps. */
export type LogStreamPoolOptions = SharedLogStreamDeps;

/** The per-pod shared log streams: created by the first follower, gone with the last. */
export class LogStreamPool {
  readonly #o: LogStreamPoolOptions;
  readonly #streams = new Map<string, SharedLogStream>();

  constructor(o: LogStreamPoolOptions) {
    this.#o = o;
  }

  subscribe(podId: string, containerName: string, sub: LogSubscriber): LogSubscription {
    let stream = this.#streams.get(podId);
    if (!stream || stream.ended) {
      stream = new SharedLogStream(podId, containerName, this.#o, (h) => {
        if (this.#streams.get(h.podId) === h) this.#streams.delete(h.podId);
      });
      this.#streams.set(podId, stream);
    }
    return stream.subscribe(sub);
  }

  /** PodService 'transition' listener. */
  onTransition(t: PodTransition): void {
    const reason = ENDING[t.type];
    if (reason) this.#streams.get(t.podId)?.finishSoon(reason);
  }

  /** Shared streams open now (one per followed pod). */
  get size(): number {
    return this.#streams.size;
  }

  followers(podId: string): number {
    return this.#streams.get(podId)?.subscribers ?? 0;
  }

  closeAll(reason: EndReason): void {
    for (const stream of [...this.#streams.values()]) stream.finishNow(reason);
  }
}

import { PinacledError } from '../errors.js';
import type { PodService } from './service.js';
import type { PodTransition } from './transitions.js';
import type { Pod, PodState } from './types.js';

interface Waiter {
  podId: string;
  state: PodState;
  resolve: (pod: Pod) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Lets requests wait for a pod to reach a state. Woken by the service's events (`state` on
 * every state change, `transition` for deletes and engine-observed changes), never by polling:
 * one listener pair for all waiters, each waiter re-reads its pod from the store when woken.
 */
export class PodWaiters {
  readonly #service: PodService;
  readonly #byPod = new Map<string, Set<Waiter>>();
  #closed = false;

  constructor(service: PodService) {
    this.#service = service;
    service.on('state', this.#onState);
    service.on('transition', this.#onTransition);
  }

  /**
   * Resolves with the pod once it is in `state` (at once if it already is). Rejects with 408
   * TIMEOUT after `timeoutMs`, 404 when the pod is (or becomes) absent. `signal` cancels.
   */
  wait(podId: string, state: PodState, timeoutMs: number, signal?: AbortSignal): Promise<Pod> {
    if (this.#closed) return Promise.reject(shuttingDown());
    const now = this.#service.find(podId);
    if (!now) return Promise.reject(notFound(podId));
    if (now.state === state) return Promise.resolve(now);
    return new Promise<Pod>((resolve, reject) => {
      const w: Waiter = {
        podId,
        state,
        resolve: (pod) => this.#done(w, () => resolve(pod)),
        reject: (err) => this.#done(w, () => reject(err)),
        timer: setTimeout(() => {
          const pod = this.#service.find(podId);
          if (!pod) w.reject(notFound(podId));
          else if (pod.state === state) w.resolve(pod);
          else w.reject(new PinacledError('PINACLED_ERR_TIMEOUT', `The pod is ${pod.state}, not ${state}, after ${timeoutMs / 1000} s`));
        }, timeoutMs),
      };
      let set = this.#byPod.get(podId);
      if (!set) this.#byPod.set(podId, (set = new Set()));
      set.add(w);
      signal?.addEventListener('abort', () => w.reject(new Error('wait cancelled')), { once: true });
    });
  }

  get size(): number {
    let n = 0;
    for (const s of this.#byPod.values()) n += s.size;
    return n;
  }

  /** Ends every wait with 503 (the daemon is shutting down) and refuses new ones. */
  close(): void {
    this.#closed = true;
    for (const set of [...this.#byPod.values()]) for (const w of [...set]) w.reject(shuttingDown());
    this.#service.off('state', this.#onState);
    this.#service.off('transition', this.#onTransition);
  }

  #done(w: Waiter, settle: () => void): void {
    const set = this.#byPod.get(w.podId);
    if (!set?.delete(w)) return; // settled already
    if (set.size === 0) this.#byPod.delete(w.podId);
    clearTimeout(w.timer);
    settle();
  }

  #wake(podId: string): void {
    const set = this.#byPod.get(podId);
    if (!set) return;
    const pod = this.#service.find(podId);
    for (const w of [...set]) {
      if (!pod) w.reject(notFound(podId));
      else if (pod.state === w.state) w.resolve(pod);
    }
  }

  readonly #onState = (pod: Pod) => this.#wake(pod.id);
  readonly #onTransition = (tr: PodTransition) => this.#wake(tr.podId);
}

function notFound(id: string): PinacledError {
  return new PinacledError('PINACLED_ERR_POD_NOT_FOUND', `No pod ${id}`);
}

function shuttingDown(): PinacledError {
  return new PinacledError('PINACLED_ERR_NOT_READY', 'The daemon is shutting down; retry the wait');
}

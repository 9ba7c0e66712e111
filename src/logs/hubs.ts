import type { Logger } from 'pino';
import type { PodTransition } from '../pods/service.js';
import type { ContainerRuntime } from '../runtime/types.js';
import { LogHub, type HubSubscriber, type HubSubscription } from './hub.js';
import type { EndReason } from './types.js';

/** Transitions after which a pod's container no longer writes logs. */
const ENDING: Partial<Record<PodTransition['type'], EndReason>> = {
  stopped: 'stopped',
  exited: 'stopped',
  'oom-killed': 'stopped',
  failed: 'stopped',
  deleted: 'deleted',
};

export interface LogHubsOptions {
  runtime: ContainerRuntime;
  maxLineBytes: number;
  log: Logger;
  endReason: (podId: string) => EndReason;
  onUpstream?: (delta: 1 | -1) => void;
}

/** The per-pod shared log streams: created by the first follower, gone with the last. */
export class LogHubs {
  readonly #o: LogHubsOptions;
  readonly #hubs = new Map<string, LogHub>();

  constructor(o: LogHubsOptions) {
    this.#o = o;
  }

  subscribe(podId: string, containerName: string, sub: HubSubscriber): HubSubscription {
    let hub = this.#hubs.get(podId);
    if (!hub || hub.ended) {
      hub = new LogHub(podId, containerName, this.#o, (h) => {
        if (this.#hubs.get(h.podId) === h) this.#hubs.delete(h.podId);
      });
      this.#hubs.set(podId, hub);
    }
    return hub.subscribe(sub);
  }

  /** PodService 'transition' listener. */
  onTransition(t: PodTransition): void {
    const reason = ENDING[t.type];
    if (reason) this.#hubs.get(t.podId)?.finishSoon(reason);
  }

  /** Shared streams open now (one per followed pod). */
  get size(): number {
    return this.#hubs.size;
  }

  followers(podId: string): number {
    return this.#hubs.get(podId)?.subscribers ?? 0;
  }

  closeAll(reason: EndReason): void {
    for (const hub of [...this.#hubs.values()]) hub.finishNow(reason);
  }
}

import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { PinacledError } from '../errors.js';
import type { PodPatch, PodsRepo } from '../store/pods-repo.js';
import type { PodTransition, TransitionSink } from './transitions.js';
import type { Pod } from './types.js';

export interface PodRecordsOptions {
  repo: PodsRepo;
  transitions: TransitionSink;
  /** Where 'state' and 'transition' are announced (the PodService facade). */
  bus: EventEmitter;
  log: Logger;
  now: () => Date;
}

/**
 * The pod rows and what is said about them: each piece of the service writes a pod's state and
 * reports its transitions through here, so every one reaches the sink and the listeners alike.
 */
export class PodRecords {
  readonly repo: PodsRepo;
  readonly #o: PodRecordsOptions;

  constructor(o: PodRecordsOptions) {
    this.#o = o;
    this.repo = o.repo;
  }

  ts(): string {
    return this.#o.now().toISOString();
  }

  log(pod: Pick<Pod, 'id' | 'name'>): Logger {
    return this.#o.log.child({ podId: pod.id, podName: pod.name });
  }

  get(id: string): Pod {
    const pod = this.#o.repo.get(id);
    if (!pod) throw new PinacledError('PINACLED_ERR_POD_NOT_FOUND', `No pod ${id}`);
    return pod;
  }

  update(id: string, patch: PodPatch): Pod {
    const pod = this.#o.repo.update(id, patch, this.ts());
    if (!pod) throw new PinacledError('PINACLED_ERR_POD_NOT_FOUND', `No pod ${id}`);
    // Every state change, transitional ones included (waiters in GET /v1/pods/{id}/wait).
    if (patch.state) this.#o.bus.emit('state', pod);
    return pod;
  }

  /** The sink first (the event feed stores it), then the service's 'transition' listeners. */
  transition(pod: Pick<Pod, 'id' | 'name'>, type: PodTransition['type'], details: Record<string, unknown> = {}): void {
    const tr: PodTransition = { podId: pod.id, podName: pod.name, type, details };
    this.#o.transitions.record(tr);
    this.#o.bus.emit('transition', tr);
  }
}

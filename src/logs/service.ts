import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { PodTransition } from '../pods/transitions.js';
import type { Pod } from '../pods/types.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { LogStreamPool } from './stream-pool.js';
import { LogSession, type LogTarget } from './session.js';
import type { LogRequest } from './types.js';

/** What the log feature needs from the pod service: lookups and its transition events. */
export interface PodSource extends EventEmitter {
  get(id: string): Pod;
}

export interface LogServiceOptions {
  runtime: ContainerRuntime;
  pods: PodSource;
  maxLineBytes: number;
  maxQueuedBytes: number;
  backlogDeadlineMs?: number;
  log: Logger;
  onUpstream?: (delta: 1 | -1) => void;
}

/** Pod logs: one-shot reads and follow sessions over shared per-pod engine streams. */
export class LogService {
  readonly streams: LogStreamPool;
  readonly #o: LogServiceOptions;
  readonly #onTransition = (t: PodTransition) => this.streams.onTransition(t);

  constructor(o: LogServiceOptions) {
    this.#o = o;
    this.streams = new LogStreamPool({
      runtime: o.runtime,
      maxLineBytes: o.maxLineBytes,
      log: o.log,
      onUpstream: o.onUpstream,
      endReason: (podId) => {
        try {
          return o.pods.get(podId).state === 'deleting' ? 'deleted' : 'stopped';
        } catch {
          return 'deleted';
        }
      },
    });
    o.pods.on('transition', this.#onTransition);
  }

  /** Throws PINACLED_ERR_POD_NOT_FOUND. */
  target(podId: string): LogTarget {
    const pod = this.#o.pods.get(podId);
    return { podId: pod.id, containerName: pod.containerName, running: pod.state === 'running' };
  }

  /** Opens a session (engine errors are thrown here); the caller runs and closes it. */
  async open(target: LogTarget, req: LogRequest): Promise<LogSession> {
    const s = new LogSession(
      {
        runtime: this.#o.runtime,
        streams: this.streams,
        maxLineBytes: this.#o.maxLineBytes,
        maxQueuedBytes: this.#o.maxQueuedBytes,
        backlogDeadlineMs: this.#o.backlogDeadlineMs ?? 60_000,
        log: this.#o.log,
      },
      target,
      req,
    );
    await s.open();
    return s;
  }

  /** Daemon shutdown: every follower gets `end` with reason `shutdown`. */
  close(): void {
    this.#o.pods.off('transition', this.#onTransition);
    this.streams.closeAll('shutdown');
  }
}

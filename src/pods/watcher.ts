import type { Logger } from 'pino';
import type { ContainerRuntime, EngineEvent, EventSubscription } from '../runtime/types.js';
import type { EngineMonitor } from './engine-monitor.js';
import { LABEL, MANAGED_FILTER } from './labels.js';
import type { PodLocks } from './locks.js';
import type { PodService } from './service.js';

/**
 * Follows the engine's container events for pinacled's containers and applies the ones that
 * happen outside the API (a process exits, `docker kill`, an OOM, `docker rm`). Events are
 * hints: the reconciler's periodic relist repairs whatever a lost event would have carried.
 * Reconnects with `since` after the engine restarts.
 */
export class EventWatcher {
  readonly #o: { runtime: ContainerRuntime; service: PodService; locks: PodLocks; engine: EngineMonitor; log: Logger };
  #sub: EventSubscription | undefined;
  #since: Date | undefined;
  #stopped = true;
  #retry: NodeJS.Timeout | undefined;
  /** Per-pod chain so events of one pod are applied in order. */
  readonly #chains = new Map<string, Promise<void>>();

  constructor(o: { runtime: ContainerRuntime; service: PodService; locks: PodLocks; engine: EngineMonitor; log: Logger }) {
    this.#o = o;
  }

  async start(): Promise<void> {
    this.#stopped = false;
    this.#o.engine.on('up', this.#onEngineUp);
    await this.#subscribe();
  }

  stop(): void {
    this.#stopped = true;
    this.#o.engine.off('up', this.#onEngineUp);
    if (this.#retry) clearTimeout(this.#retry);
    this.#sub?.close();
    this.#sub = undefined;
  }

  get connected(): boolean {
    return this.#sub !== undefined;
  }

  readonly #onEngineUp = () => {
    if (!this.#sub && !this.#stopped) void this.#subscribe();
  };

  async #subscribe(): Promise<void> {
    if (this.#stopped || this.#sub) return;
    try {
      this.#sub = await this.#o.runtime.subscribeEvents(MANAGED_FILTER, this.#since, (e) => this.#onEvent(e), (err) => this.#onError(err));
      this.#o.log.debug('following engine events');
    } catch (err) {
      this.#onError(err as Error);
    }
  }

  #onError(err: Error): void {
    this.#sub = undefined;
    if (this.#stopped) return;
    this.#o.log.warn({ err: err.message }, 'engine event stream lost; reconnecting');
    this.#retry = setTimeout(() => void this.#subscribe(), 1000);
    this.#retry.unref();
  }

  #onEvent(e: EngineEvent): void {
    // Resume point: one second back, since Docker's `since` has second granularity.
    this.#since = new Date(Number(e.timeNano / 1_000_000n) - 1000);
    const podId = e.labels[LABEL.POD_ID];
    if (!podId || !['die', 'oom', 'start', 'destroy'].includes(e.action)) return;
    const prev = this.#chains.get(podId) ?? Promise.resolve();
    const next = prev
      .then(() => this.#apply(podId, e))
      .catch((err: Error) => this.#o.log.warn({ podId, err: err.message }, 'could not apply engine event'))
      .finally(() => {
        if (this.#chains.get(podId) === next) this.#chains.delete(podId);
      });
    this.#chains.set(podId, next);
  }

  async #apply(podId: string, e: EngineEvent): Promise<void> {
    // An operation in flight on this pod records the outcome itself.
    if (this.#o.locks.isHeld(podId)) return;
    let pod;
    try {
      pod = this.#o.service.get(podId);
    } catch {
      return; // not ours any more (deleted)
    }
    if (pod.state === 'deleting' || pod.state === 'creating') return;
    const st = await this.#o.runtime.inspectContainer(pod.containerName);
    if (this.#o.locks.isHeld(podId)) return;
    if (!st) {
      if (e.action === 'destroy') this.#o.service.markGone(podId);
      return;
    }
    if (st.running) this.#o.service.markRunning(podId, st);
    else this.#o.service.applyExit(podId, st);
  }
}

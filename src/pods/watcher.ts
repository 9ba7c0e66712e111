import type { Logger } from 'pino';
import type { ContainerRuntime, EngineEvent, EventSubscription } from '../runtime/container-runtime.js';
import type { EngineMonitor } from './engine-monitor.js';
import { LABEL, MANAGED_FILTER } from './labels.js';
import type { PodLocks } from './locks.js';
import type { PodService } from './service.js';

export interface EventWatcherOptions {
  runtime: ContainerRuntime;
  service: PodService;
  locks: PodLocks;
  engine: EngineMonitor;
  log: Logger;
  /** An event for a container whose pod the store does not know: a full reconcile sorts it out. */
  onUnknownPod?: () => void;
  /** Pause before resubscribing after the stream broke. */
  retryMs?: number;
}

/**
 * Follows the engine's container events for pinacled's containers and applies the ones that
 * happen outside the API (a process exits, `docker kill`, an OOM, `docker rm`): each event is a
 * targeted reconcile of its pod (the pod is inspected, the event itself is only a hint). The
 * reconciler's periodic relist repairs whatever a lost event would have carried.
 *
 * The stream has no heartbeat, so its liveness comes from the engine monitor: when the engine
 * goes down the subscription is dropped, when it comes back a new one starts (with `since`).
 */
export class EventWatcher {
  readonly #o: EventWatcherOptions;
  #sub: EventSubscription | undefined;
  /** A subscribe call in flight: at most one, so no stream is ever leaked. */
  #subscribing: Promise<void> | undefined;
  #since: Date | undefined;
  #stopped = true;
  #retry: NodeJS.Timeout | undefined;
  /** Per-pod chain so events of one pod are applied in order. */
  readonly #chains = new Map<string, Promise<void>>();

  constructor(o: EventWatcherOptions) {
    this.#o = o;
  }

  async start(): Promise<void> {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#o.engine.on('up', this.#onEngineUp);
    this.#o.engine.on('down', this.#onEngineDown);
    await this.#subscribe();
  }

  /** Closes the stream and waits for the events being applied (they use the store). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#o.engine.off('up', this.#onEngineUp);
    this.#o.engine.off('down', this.#onEngineDown);
    if (this.#retry) clearTimeout(this.#retry);
    this.#drop();
    await this.#subscribing;
    this.#drop();
    await Promise.allSettled([...this.#chains.values()]);
  }

  get connected(): boolean {
    return this.#sub !== undefined;
  }

  #drop(): void {
    this.#sub?.close();
    this.#sub = undefined;
  }

  readonly #onEngineUp = () => {
    if (!this.#stopped) void this.#subscribe();
  };

  readonly #onEngineDown = () => {
    // A stream to a hung engine may stay open without ever delivering: start afresh on `up`.
    this.#drop();
  };

  #subscribe(): Promise<void> {
    if (this.#stopped || this.#sub) return Promise.resolve();
    this.#subscribing ??= (async () => {
      try {
        let sub: EventSubscription | undefined;
        let early: Error | undefined;
        sub = await this.#o.runtime.subscribeEvents(
          MANAGED_FILTER,
          this.#since,
          (e) => this.#onEvent(e),
          (err) => (sub ? this.#onError(sub, err) : (early = err)),
        );
        if (this.#stopped) sub.close();
        else if (early) {
          sub.close();
          this.#onError(undefined, early);
        } else {
          this.#sub = sub;
          this.#o.log.debug('following engine events');
        }
      } catch (err) {
        this.#onError(undefined, err as Error);
      }
    })().finally(() => (this.#subscribing = undefined));
    return this.#subscribing;
  }

  #onError(sub: EventSubscription | undefined, err: Error): void {
    // A late error of a stream we already dropped is not news.
    if (sub !== undefined && sub !== this.#sub) return;
    this.#sub = undefined;
    if (this.#stopped) return;
    this.#o.log.warn({ err: (err as { detailForLogs?: string }).detailForLogs ?? err.message }, 'engine event stream lost; reconnecting');
    // The stream breaking is the first sign of an engine restart: check now, not at the next poll.
    this.#o.engine.reportFailure(err);
    if (this.#retry) clearTimeout(this.#retry);
    // While the engine is down the monitor's `up` resubscribes; retrying here would only spin.
    this.#retry = setTimeout(() => {
      if (this.#o.engine.health.reachable) void this.#subscribe();
    }, this.#o.retryMs ?? 1000);
    this.#retry.unref();
  }

  #onEvent(e: EngineEvent): void {
    // Resume point: one second back, since Docker's `since` has second granularity.
    this.#since = new Date(Number(e.timeNano / 1_000_000n) - 1000);
    const podId = e.labels[LABEL.POD_ID];
    if (!podId || !['die', 'oom', 'start', 'destroy', 'create'].includes(e.action)) return;
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
    if (this.#stopped) return;
    // An operation in flight on this pod records the outcome itself.
    if (this.#o.locks.isHeld(podId)) return;
    const pod = this.#o.service.find(podId);
    if (!pod) {
      // A labelled container the store does not know (a stray, or one a create is rolling back).
      if (e.action === 'create' || e.action === 'start') this.#o.onUnknownPod?.();
      return;
    }
    if (e.action === 'create' || pod.state === 'deleting' || pod.state === 'creating') return;
    const st = await this.#o.runtime.inspectContainer(pod.containerName);
    if (this.#stopped || this.#o.locks.isHeld(podId)) return;
    if (!st) {
      if (e.action === 'destroy') this.#o.service.markGone(podId);
      return;
    }
    if (st.running) this.#o.service.markRunning(podId, st);
    // Docker 20.10 records OOMKilled only when the shim's OOM event precedes the exit event;
    // under load it can come second (seen with runsc: State.OOMKilled false, exit 137, then an
    // `oom` event). The event itself is the evidence.
    else if (e.action === 'oom' && st.exitCode === 137 && !st.oomKilled) this.#o.service.applyExit(podId, { ...st, oomKilled: true });
    else this.#o.service.applyExit(podId, st);
  }
}

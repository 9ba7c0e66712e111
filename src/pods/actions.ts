import { PinacledError, isPinacledError } from '../errors.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { requireEngine } from '../runtime/guarded-runtime.js';
import type { PodContainers } from './containers.js';
import type { EngineMonitor } from './engine-monitor.js';
import { codeOf, mapRuntimeError } from './failures.js';
import type { PodLocks } from './locks.js';
import type { ObservedState } from './observed.js';
import type { PodRecords } from './records.js';
import { canTransition } from './state.js';
import type { Pod, PodState } from './types.js';

export interface PodActionsOptions {
  /** The guarded runtime (runtime/guarded-runtime.ts): it gates and reports engine failures. */
  runtime: ContainerRuntime;
  engine: EngineMonitor;
  locks: PodLocks;
  records: PodRecords;
  containers: PodContainers;
  observed: ObservedState;
}

/**
 * The user actions on an existing pod: start, stop, restart, delete. Each holds the pod's lock,
 * writes intent before it touches the engine, and after a failure records what the engine shows.
 */
export class PodActions {
  readonly #o: PodActionsOptions;

  constructor(o: PodActionsOptions) {
    this.#o = o;
  }

  #transition(pod: Pod, to: PodState, op: string): void {
    if (!canTransition(pod.state, to)) {
      throw new PinacledError('PINACLED_ERR_INVALID_TRANSITION', `Cannot ${op} a pod that is ${pod.state}`);
    }
  }

  start(id: string): Promise<Pod> {
    return this.#o.locks.with(id, 'start', () => this.#startLocked(id));
  }

  async #startLocked(id: string): Promise<Pod> {
    const { records } = this.#o;
    const pod = records.get(id);
    if (pod.state === 'running') return pod;
    this.#transition(pod, 'starting', 'start');
    this.#o.containers.requireFirewall();
    const existing = await this.#o.runtime.inspectContainer(pod.containerName);
    let containerId = existing?.id;
    records.update(id, { state: 'starting' });
    try {
      if (!containerId) {
        // Removed behind our back: recreate it from the pod's spec; the volume keeps the data
        // (createVolume is a no-op when it exists).
        containerId = await this.#o.containers.make(pod);
        records.update(id, { containerId });
      }
      await this.#o.runtime.startContainer(containerId);
      return await this.#o.observed.settleAfterStart(id);
    } catch (err) {
      await this.#restoreObservedState(id, err);
      throw mapRuntimeError(err);
    }
  }

  stop(id: string, timeoutS: number): Promise<Pod> {
    return this.#o.locks.with(id, 'stop', () => this.#stopLocked(id, timeoutS));
  }

  async #stopLocked(id: string, timeoutS: number): Promise<Pod> {
    const { records } = this.#o;
    const pod = records.get(id);
    if (pod.state === 'stopped' || pod.state === 'failed') return pod;
    this.#transition(pod, 'stopping', 'stop');
    await requireEngine(this.#o.engine);
    records.update(id, { state: 'stopping' });
    try {
      await this.#o.runtime.stopContainer(pod.containerName, timeoutS);
      const st = await this.#o.runtime.inspectContainer(pod.containerName);
      if (!st) return records.update(id, { state: 'failed', error: { code: 'CONTAINER_GONE', message: 'the container was removed outside pinacled' } });
      const p = this.#o.observed.applyExit(id, st);
      records.transition(p, 'stopped', { exitCode: st.exitCode });
      return p;
    } catch (err) {
      await this.#restoreObservedState(id, err);
      throw mapRuntimeError(err);
    }
  }

  async restart(id: string, timeoutS: number): Promise<Pod> {
    // One lock over both halves: no other operation (or event) slips in between.
    const pod = await this.#o.locks.with(id, 'restart', async () => {
      // Refused before the stop: a restart that could not start again must not stop the pod.
      if (this.#o.records.get(id).state === 'running') this.#o.containers.requireFirewall();
      await this.#stopLocked(id, timeoutS);
      return this.#startLocked(id);
    });
    this.#o.records.transition(pod, 'restarted');
    return pod;
  }

  async delete(id: string, timeoutS: number): Promise<void> {
    const { records } = this.#o;
    return this.#o.locks.with(id, 'delete', async () => {
      const pod = records.get(id);
      this.#transition(pod, 'deleting', 'delete');
      await requireEngine(this.#o.engine);
      records.update(id, { state: 'deleting' });
      try {
        await this.finishDelete(pod, timeoutS);
      } catch (err) {
        // Stays `deleting` with the reason: a retried DELETE or the reconciler finishes it.
        records.update(id, { error: { code: codeOf(err), message: 'delete did not finish; it is retried' } });
        throw mapRuntimeError(err);
      }
    });
  }

  /** Stops and removes container and volume, then the row. Used by delete and the reconciler. */
  async finishDelete(pod: Pod, timeoutS: number): Promise<void> {
    await this.#o.runtime.stopContainer(pod.containerName, timeoutS);
    await this.#o.containers.remove(pod);
    this.#o.records.repo.delete(pod.id);
    this.#o.records.log(pod).info('pod deleted');
    this.#o.records.transition(pod, 'deleted');
  }

  /** After a failed start/stop, record what the engine really shows (if it answers). */
  async #restoreObservedState(id: string, err: unknown): Promise<void> {
    const { records } = this.#o;
    const error = { code: codeOf(err), message: isPinacledError(err) ? err.message : 'engine operation failed' };
    try {
      const pod = records.get(id);
      // Through the guarded runtime: with the engine known down this fails fast instead of
      // waiting out the call deadline on a hung engine.
      const st = await this.#o.runtime.inspectContainer(pod.containerName);
      if (!st) records.update(id, { state: 'failed', error });
      else if (st.running) records.update(id, { state: 'running', error });
      else records.update(id, { state: 'stopped', exitCode: st.exitCode, error });
    } catch {
      // The engine is unreachable: the reconciler settles the state when it returns.
      records.update(id, { error });
    }
  }
}

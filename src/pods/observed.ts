import type { ContainerRuntime, ContainerStatus } from '../runtime/container-runtime.js';
import type { PodPatch } from '../store/pods-repo.js';
import type { PodRecords } from './records.js';
import type { Pod } from './types.js';

/**
 * What the engine shows of a pod's container, recorded: after a start, and when the watcher or
 * the reconciler sees a change made outside the API (an exit, an OOM, `docker start`, `docker rm`).
 */
export class ObservedState {
  readonly #runtime: ContainerRuntime;
  readonly #records: PodRecords;

  constructor(o: { runtime: ContainerRuntime; records: PodRecords }) {
    this.#runtime = o.runtime;
    this.#records = o.records;
  }

  /** Reads the container after a start: running, or already exited (bad command). */
  async settleAfterStart(podId: string): Promise<Pod> {
    const records = this.#records;
    const pod = records.get(podId);
    const st = await this.#runtime.inspectContainer(pod.containerName);
    if (!st) {
      return records.update(podId, { state: 'failed', error: { code: 'CONTAINER_GONE', message: 'the container disappeared during start' } });
    }
    if (st.running) {
      const p = records.update(podId, { state: 'running', startedAt: st.startedAt, finishedAt: null, exitCode: null, oomKilled: false, error: null });
      records.transition(p, 'started');
      return p;
    }
    return this.applyExit(podId, st);
  }

  /** Records that a pod's container is no longer running (exit, kill, OOM). */
  applyExit(podId: string, st: ContainerStatus): Pod {
    const pod = this.#records.get(podId);
    const patch: PodPatch = {
      state: 'stopped',
      exitCode: st.exitCode,
      oomKilled: st.oomKilled,
      finishedAt: st.finishedAt,
      startedAt: st.startedAt ?? pod.startedAt,
      error: null,
    };
    if (st.oomKilled) patch.error = { code: 'OOM_KILLED', message: 'the pod exceeded its memory limit and was killed' };
    else if (pod.sandboxed && st.exitCode === 2 && pod.state === 'running') {
      // runsc exits the whole sandbox with code 2 when the host pids cap is reached.
      patch.error = { code: 'SANDBOX_EXITED', message: 'the sandbox exited with code 2 (often: the process limit was reached)' };
    } else if (st.error) patch.error = { code: 'CONTAINER_ERROR', message: 'the container failed to run its command' };
    const p = this.#records.update(podId, patch);
    if (pod.state !== 'stopped' || pod.exitCode !== st.exitCode) {
      this.#records.transition(p, st.oomKilled ? 'oom-killed' : 'exited', { exitCode: st.exitCode, oomKilled: st.oomKilled });
    }
    return p;
  }

  /** The container was started outside the API (`docker start`). */
  markRunning(podId: string, st: ContainerStatus): Pod {
    const pod = this.#records.get(podId);
    if (pod.state === 'running' && pod.startedAt === st.startedAt) return pod;
    const p = this.#records.update(podId, { state: 'running', startedAt: st.startedAt, finishedAt: null, exitCode: null, oomKilled: false, error: null });
    this.#records.transition(p, 'started', { outside: true });
    return p;
  }

  /** The container vanished outside the API (`docker rm`): the pod stays, marked failed. */
  markGone(podId: string): Pod {
    const pod = this.#records.get(podId);
    if (pod.state === 'failed' && pod.error?.code === 'CONTAINER_GONE') return pod;
    const p = this.#records.update(podId, {
      state: 'failed',
      error: { code: 'CONTAINER_GONE', message: 'the container was removed outside pinacled; start the pod to recreate it' },
    });
    this.#records.transition(p, 'failed', { reason: 'CONTAINER_GONE' });
    return p;
  }
}

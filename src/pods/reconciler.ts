import type { Logger } from 'pino';
import type { ContainerRuntime } from '../runtime/types.js';
import type { PodsRepo } from '../store/pods-repo.js';
import type { EngineMonitor } from './engine-monitor.js';
import { LABEL, MANAGED_FILTER } from './labels.js';
import type { PodLocks } from './locks.js';
import { STORE_ID_LABEL, type PodService } from './service.js';

export type RepairKind =
  | 'rollback_create'
  | 'finish_delete'
  | 'container_gone'
  | 'state_sync'
  | 'remove_stray_container'
  | 'remove_stray_volume'
  | 'refuse_foreign';

export interface ReconcileReport {
  repairs: { kind: RepairKind; podId: string; detail?: string }[];
  skipped: string | null;
}

export interface ReconcilerOptions {
  runtime: ContainerRuntime;
  repo: PodsRepo;
  service: PodService;
  locks: PodLocks;
  engine: EngineMonitor;
  storeId: string;
  intervalMs: number;
  stopTimeoutS: number;
  log: Logger;
  onRepair?: (kind: RepairKind) => void;
}

/**
 * Makes the store and the engine agree, kubelet-style: the engine's list is the truth for what
 * runs, the store is the truth for what should exist. Runs at start (the daemon is not ready
 * before the first pass), whenever the engine comes back, and every interval as a safety net.
 * It only removes engine objects it can prove it owns: they carry this store's id.
 */
export class Reconciler {
  readonly #o: ReconcilerOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<ReconcileReport> | undefined;
  #passes = 0;

  constructor(o: ReconcilerOptions) {
    this.#o = o;
  }

  /** True after one complete pass. */
  get ready(): boolean {
    return this.#passes > 0;
  }

  async start(): Promise<void> {
    this.#o.engine.on('up', this.#kick);
    await this.runOnce().catch((err: Error) => this.#o.log.warn({ err: err.message }, 'first reconcile failed; retrying on the next interval'));
    this.#timer = setInterval(this.#kick, this.#o.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#o.engine.off('up', this.#kick);
    if (this.#timer) clearInterval(this.#timer);
  }

  readonly #kick = () => {
    void this.runOnce().catch((err: Error) => this.#o.log.warn({ err: err.message }, 'reconcile pass failed'));
  };

  /** One pass; concurrent callers share it. */
  runOnce(): Promise<ReconcileReport> {
    this.#running ??= this.#pass().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #pass(): Promise<ReconcileReport> {
    const report: ReconcileReport = { repairs: [], skipped: null };
    const { runtime, repo, service, locks, log } = this.#o;
    const repair = (kind: RepairKind, podId: string, detail?: string) => {
      report.repairs.push({ kind, podId, ...(detail ? { detail } : {}) });
      this.#o.onRepair?.(kind);
      log.info({ repair: kind, podId, detail }, 'reconciler repair');
    };
    const containers = await runtime.listContainers(MANAGED_FILTER);
    const volumes = await runtime.listVolumes(MANAGED_FILTER);
    const byName = new Map(containers.map((c) => [c.name, c]));
    const pods = repo.list();
    const podIds = new Set(pods.map((p) => p.id));

    for (const pod of pods) {
      if (locks.isHeld(pod.id)) continue;
      await locks
        .with(pod.id, 'reconcile', async () => {
          const current = repo.get(pod.id);
          if (!current) return;
          const c = byName.get(current.containerName);
          if (current.state === 'creating') {
            // The client never got a 201 for this pod: roll the create back.
            await runtime.removeContainer(current.containerName);
            await runtime.removeVolume(current.volumeName);
            repo.delete(current.id);
            repair('rollback_create', current.id);
            return;
          }
          if (current.state === 'deleting') {
            await service.finishDelete(current, this.#o.stopTimeoutS);
            repair('finish_delete', current.id);
            return;
          }
          if (!c) {
            if (current.state !== 'failed' || current.error?.code !== 'CONTAINER_GONE') {
              service.markGone(current.id);
              repair('container_gone', current.id);
            }
            return;
          }
          const st = await runtime.inspectContainer(c.id);
          if (!st) return;
          if (st.running && current.state !== 'running') {
            service.markRunning(current.id, st);
            repair('state_sync', current.id, `${current.state} -> running`);
          } else if (!st.running && current.state !== 'stopped' && current.state !== 'failed') {
            service.applyExit(current.id, st);
            repair('state_sync', current.id, `${current.state} -> stopped`);
          }
        })
        .catch((err: Error) => log.warn({ podId: pod.id, err: err.message }, 'could not reconcile pod'));
    }

    for (const c of containers) {
      const podId = c.labels[LABEL.POD_ID] ?? '';
      if (podIds.has(podId) || locks.isHeld(podId)) continue;
      if (c.labels[STORE_ID_LABEL] !== this.#o.storeId) {
        repair('refuse_foreign', podId, `container ${c.name} belongs to another pinacled store; not removing it`);
        continue;
      }
      await runtime.removeContainer(c.id);
      repair('remove_stray_container', podId, c.name);
    }
    for (const v of volumes) {
      const podId = v.labels[LABEL.POD_ID] ?? '';
      if (podIds.has(podId) || locks.isHeld(podId)) continue;
      if (v.labels[STORE_ID_LABEL] !== this.#o.storeId) {
        repair('refuse_foreign', podId, `volume ${v.name} belongs to another pinacled store; not removing it`);
        continue;
      }
      await runtime.removeVolume(v.name);
      repair('remove_stray_volume', podId, v.name);
    }
    this.#passes++;
    return report;
  }
}

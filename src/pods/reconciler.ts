import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { ContainerRuntime, ContainerSummary, VolumeSummary } from '../runtime/container-runtime.js';
import type { PodsRepo } from '../store/pods-repo.js';
import type { EngineMonitor } from './engine-monitor.js';
import { LABEL, MANAGED_FILTER, STORE_ID_LABEL } from './labels.js';
import type { PodLocks } from './locks.js';
import type { PodService } from './service.js';
import type { Pod } from './types.js';

/** Every repair a pass can make (the label values of pinacled_reconcile_repairs_total). */
export const REPAIR_KINDS = [
  'rollback_create',
  'finish_delete',
  'container_gone',
  'state_sync',
  'remove_stray_container',
  'remove_stray_volume',
  'remove_stray_network',
  'refuse_foreign',
  'refuse_mass_delete',
] as const;

export type RepairKind = (typeof REPAIR_KINDS)[number];

export interface Repair {
  kind: RepairKind;
  podId: string;
  detail?: string;
}

export interface ReconcileReport {
  repairs: Repair[];
  /** Pods the pass could not settle (engine error, busy): the next pass retries them. */
  errors: { podId: string; error: string }[];
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
  /**
   * At most this many stray containers (and, separately, volumes) are removed in one pass. More
   * strays than that means the store lost rows (a restored backup, a wrong data dir) far more
   * likely than that pinacled leaked them: the pass then removes none and reports instead.
   */
  maxRemovals: number;
  log: Logger;
  onRepair?: (kind: RepairKind) => void;
}

/**
 * Makes the store and the engine agree, kubelet-style: the engine's list is the truth for what
 * runs, the store is the truth for what should exist. Runs at start (the daemon is not ready
 * before the first pass), whenever the engine comes back (not ready again until that pass is
 * done), when an event names a pod the store does not know, and every interval as a safety net.
 *
 * What it repairs, per pod (under the pod's lock; pods busy with an operation are skipped):
 * - `creating` (a create that never answered 201): rolled back as a whole;
 * - `deleting`: finished;
 * - container missing: the pod is `failed` with CONTAINER_GONE (start recreates it);
 * - container running or not, pod says otherwise: the pod takes the engine's state.
 * And engine objects (containers, volumes, per-pod networks) without a pod: removed only when
 * they carry this store's id label (proof
 * that this store made them), and never more than `maxRemovals` in one pass.
 *
 * Emits `pass` (with the report) after every complete pass.
 */
export class Reconciler extends EventEmitter {
  readonly #o: ReconcilerOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<ReconcileReport> | undefined;
  #queued: Promise<ReconcileReport> | undefined;
  #passes = 0;
  /** Bumped when the engine comes back; a pass is current when it started after the last bump. */
  #generation = 0;
  #currentGeneration = -1;
  #stopped = false;
  /** Foreign objects are reported once, not every pass (test hosts run many daemons on one engine). */
  readonly #reportedForeign = new Set<string>();

  constructor(o: ReconcilerOptions) {
    super();
    this.#o = o;
  }

  /** True once a pass has completed since the engine was last (re)reached. */
  get ready(): boolean {
    return this.#passes > 0 && this.#currentGeneration === this.#generation;
  }

  /** Completed passes since start. */
  get passes(): number {
    return this.#passes;
  }

  /** Why not ready, for /readyz. */
  get pending(): string | null {
    if (this.ready) return null;
    return this.#passes === 0 ? 'the first reconcile pass has not finished' : 'a reconcile pass after the engine returned has not finished';
  }

  async start(): Promise<void> {
    this.#stopped = false;
    this.#o.engine.on('up', this.#onUp);
    await this.runOnce().catch((err: Error) => this.#o.log.warn({ err: errText(err) }, 'first reconcile failed; retrying when the engine answers'));
    if (this.#stopped) return;
    this.#timer = setInterval(this.kick, this.#o.intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer and waits for a pass in flight (it uses the store, which closes next). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#o.engine.off('up', this.#onUp);
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.allSettled([this.#running, this.#queued]);
  }

  readonly #onUp = () => {
    this.#generation++;
    this.kick();
  };

  /** Runs a pass soon, without waiting; failures are logged. */
  readonly kick = () => {
    if (this.#stopped) return;
    void this.runOnce().catch((err: Error) => this.#o.log.warn({ err: errText(err) }, 'reconcile pass failed'));
  };

  /**
   * One pass. A caller arriving while a pass runs gets the *next* pass: the running one may have
   * listed the engine before the change the caller wants repaired.
   */
  runOnce(): Promise<ReconcileReport> {
    if (!this.#running) {
      this.#running = this.#pass().finally(() => (this.#running = undefined));
      return this.#running;
    }
    this.#queued ??= this.#running
      .catch(() => undefined)
      .then(() => {
        this.#queued = undefined;
        return this.runOnce();
      });
    return this.#queued;
  }

  async #pass(): Promise<ReconcileReport> {
    if (this.#stopped) throw new Error('reconciler stopped');
    const generation = this.#generation;
    const report: ReconcileReport = { repairs: [], errors: [] };
    const { runtime, repo, log } = this.#o;
    const repair = (kind: RepairKind, podId: string, detail?: string) => {
      report.repairs.push({ kind, podId, ...(detail ? { detail } : {}) });
      this.#o.onRepair?.(kind);
      const level = kind.startsWith('refuse') ? 'warn' : 'info';
      log[level]({ repair: kind, podId, detail }, 'reconciler repair');
    };
    // Engine first, store second: a pod created between the two reads has a row (so its
    // container is never taken for a stray) and its lock is held anyway.
    const [containers, volumes] = await Promise.all([runtime.listContainers(MANAGED_FILTER), runtime.listVolumes(MANAGED_FILTER)]);
    // The repo's memory holds exactly what the store committed (store/pods-repo.ts).
    const pods = repo.list();
    const byName = new Map(containers.map((c) => [c.name, c]));

    // Pods are independent (each under its own lock): a few at a time, so a pass after a crash
    // that must roll back several creates (a `docker rm -f` of a starting runsc container takes
    // seconds) does not keep the daemon not-ready for the sum of them.
    await eachLimit(pods, POD_CONCURRENCY, async (pod) => {
      if (this.#stopped || this.#o.locks.isHeld(pod.id)) return;
      try {
        await this.#o.locks.with(pod.id, 'reconcile', () => this.#reconcilePod(pod.id, byName.get(pod.containerName), repair));
      } catch (err) {
        report.errors.push({ podId: pod.id, error: errText(err) });
        log.warn({ podId: pod.id, err: errText(err) }, 'could not reconcile pod');
      }
    });
    if (!this.#stopped) await this.#removeStrays({ containers, volumes }, new Set(pods.map((p) => p.id)), repair, report);
    if (!this.#stopped) await this.#removeStrayNetworks(repair, report);
    this.#passes++;
    this.#currentGeneration = Math.max(this.#currentGeneration, generation);
    this.emit('pass', report);
    return report;
  }

  async #reconcilePod(id: string, c: ContainerSummary | undefined, repair: (kind: RepairKind, podId: string, detail?: string) => void): Promise<void> {
    const { service } = this.#o;
    // Re-read under the lock: an operation may have finished since the list.
    const pod = this.#o.repo.get(id);
    if (!pod) return;
    if (pod.state === 'creating') {
      // The client never got a 201 for this pod: roll the whole create back.
      await service.discardCreate(pod);
      repair('rollback_create', pod.id);
      return;
    }
    if (pod.state === 'deleting') {
      await service.finishDelete(pod, this.#o.stopTimeoutS);
      repair('finish_delete', pod.id);
      return;
    }
    if (!c) {
      // Already recorded as gone: nothing to repair, and no inspect per pass for such pods
      // (a host with many of them would otherwise pay one engine call each, every pass).
      if (pod.state === 'failed' && pod.error?.code === 'CONTAINER_GONE') return;
      // The list was taken before the lock: confirm with an inspect before calling it gone.
      if (await this.#o.runtime.inspectContainer(pod.containerName)) return;
      service.markGone(pod.id);
      repair('container_gone', pod.id, `was ${pod.state}`);
      return;
    }
    // The list's status is enough to see agreement; inspect only to repair.
    if (agrees(pod, c.status)) return;
    const st = await this.#o.runtime.inspectContainer(c.id);
    if (!st) return; // removed meanwhile: the next pass (or the destroy event) sees it
    if (st.running && pod.state !== 'running') {
      service.markRunning(pod.id, st);
      repair('state_sync', pod.id, `${pod.state} -> running`);
    } else if (!st.running && pod.state !== 'stopped' && pod.state !== 'failed') {
      service.applyExit(pod.id, st);
      repair('state_sync', pod.id, `${pod.state} -> stopped`);
    }
  }

  async #removeStrays(
    all: { containers: ContainerSummary[]; volumes: VolumeSummary[] },
    listed: Set<string>,
    repair: (kind: RepairKind, podId: string, detail?: string) => void,
    report: ReconcileReport,
  ): Promise<void> {
    // Pods listed at the start were handled above (a rollback or delete removes its own
    // objects; what it left is a stray for the next pass). Read the store again too: pods
    // created during the per-pod loop must not look like strays.
    const known = new Set([...listed, ...this.#o.repo.list().map((p) => p.id)]);
    const orphaned = <T extends { labels: Record<string, string> }>(xs: T[]) =>
      xs.filter((x) => {
        const podId = x.labels[LABEL.POD_ID] ?? '';
        return !known.has(podId) && !this.#o.locks.isHeld(podId);
      });
    // Containers first: a volume still used by a container cannot be removed.
    const kinds = [
      ['container', orphaned(all.containers)],
      ['volume', orphaned(all.volumes)],
    ] as const;
    for (const [what, strays] of kinds) {
      const ours = strays.filter((x) => x.labels[STORE_ID_LABEL] === this.#o.storeId);
      for (const x of strays) {
        if (x.labels[STORE_ID_LABEL] !== this.#o.storeId && !this.#reportedForeign.has(x.name)) {
          this.#reportedForeign.add(x.name);
          repair('refuse_foreign', x.labels[LABEL.POD_ID] ?? '', `${what} ${x.name} belongs to another pinacled store; not removing it`);
        }
      }
      if (ours.length > this.#o.maxRemovals) {
        repair(
          'refuse_mass_delete',
          '',
          `${ours.length} ${what}s carry this store's id but have no pod (limit ${this.#o.maxRemovals} per pass): ` +
            'the store may have lost rows (restored backup?); not removing any. Remove them by label dev.pinacle.store-id if they are garbage',
        );
        continue;
      }
      for (const x of ours) {
        const podId = x.labels[LABEL.POD_ID] ?? '';
        try {
          if (what === 'container') await this.#o.runtime.removeContainer((x as ContainerSummary).id);
          else await this.#o.runtime.removeVolume(x.name);
          repair(`remove_stray_${what}`, podId, x.name);
        } catch (err) {
          report.errors.push({ podId, error: errText(err) });
          this.#o.log.warn({ podId, err: errText(err) }, `could not remove stray ${what}`);
        }
      }
    }
  }

  /**
   * Per-pod networks left behind (a delete interrupted between container and network). Same
   * ownership proof as containers: this store's id, no pod row, no operation in flight. The
   * network list is read before the store, and a create writes its row before its network.
   */
  async #removeStrayNetworks(repair: (kind: RepairKind, podId: string, detail?: string) => void, report: ReconcileReport): Promise<void> {
    let networks;
    try {
      networks = await this.#o.runtime.listNetworks(MANAGED_FILTER);
    } catch (err) {
      report.errors.push({ podId: '', error: errText(err) });
      return;
    }
    const known = new Set(this.#o.repo.list().map((p) => p.id));
    const strays = networks.filter((n) => {
      const podId = n.labels[LABEL.POD_ID] ?? '';
      return !known.has(podId) && !this.#o.locks.isHeld(podId) && n.labels[STORE_ID_LABEL] === this.#o.storeId;
    });
    if (strays.length > this.#o.maxRemovals) {
      repair('refuse_mass_delete', '', `${strays.length} networks carry this store's id but have no pod (limit ${this.#o.maxRemovals} per pass); not removing any`);
      return;
    }
    for (const n of strays) {
      const podId = n.labels[LABEL.POD_ID] ?? '';
      try {
        await this.#o.runtime.removeNetwork(n.id);
        repair('remove_stray_network', podId, n.name);
      } catch (err) {
        report.errors.push({ podId, error: errText(err) });
        this.#o.log.warn({ podId, err: errText(err) }, 'could not remove stray network');
      }
    }
  }

}

/** Pods repaired at the same time in one pass. */
const POD_CONCURRENCY = 4;

async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Whether the pod's state already matches the container's list status. */
function agrees(pod: Pod, status: string): boolean {
  const running = status === 'running';
  if (pod.state === 'running') return running;
  if (pod.state === 'stopped' || pod.state === 'failed') return !running && status !== 'restarting';
  return false;
}

function errText(err: unknown): string {
  return (err as { detailForLogs?: string }).detailForLogs ?? (err instanceof Error ? err.message : String(err));
}

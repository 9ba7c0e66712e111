import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { PodNetworks } from '../network/pod-networks.js';
import type { ContainerRuntime, ContainerStatus } from '../runtime/container-runtime.js';
import type { PodsRepo } from '../store/pods-repo.js';
import { PodActions } from './actions.js';
import { PodContainers } from './containers.js';
import { PodCreator, type CreateHooks, type CreateResult } from './create.js';
import type { EngineMonitor } from './engine-monitor.js';
import { matches, pageOf, type ListFilter, type PodKey } from './list.js';
import type { PodLocks } from './locks.js';
import { ObservedState } from './observed.js';
import { PodRecords } from './records.js';
import type { Template } from './templates.js';
import type { TransitionSink } from './transitions.js';
import type { CreatePodInput, Pod, TemplateName } from './types.js';

export interface PodServiceOptions {
  repo: PodsRepo;
  /** The guarded runtime (runtime/guarded-runtime.ts): it gates and reports engine failures. */
  runtime: ContainerRuntime;
  engine: EngineMonitor;
  locks: PodLocks;
  templates: Record<TemplateName, Template>;
  log: Logger;
  /** Told of every transition before the 'transition' listeners are (the event feed). */
  transitions: TransitionSink;
  storeId: string;
  runtimeName: string;
  allowUnsandboxed: boolean;
  requireNetstack?: boolean;
  publishHost: string;
  portRange: { low: number; high: number };
  stopTimeoutS: number;
  logMaxSize: string;
  logMaxFile: number;
  /** Ceiling of one pod's host pids cap. */
  maxHostPids?: number;
  /** The engine's hard open-files limit (runc pods are clamped to it). */
  maxNofile?: number | undefined;
  /** Per-pod networks; without it pods use the engine's default bridge (tests that predate it). */
  networks?: PodNetworks;
  /** Nothing starts a container while the host firewall policy is not in place (fail closed). */
  firewall?: { readonly status: { ok: boolean; detail: string } };
  now?: () => Date;
  /** Times each API operation (create, start, stop, restart, delete) with its outcome. */
  timeOperation?: OperationTimer;
}

export type PodOperation = 'create' | 'start' | 'stop' | 'restart' | 'delete';
export type OperationTimer = <T>(op: PodOperation, fn: () => Promise<T>) => Promise<T>;
const untimed: OperationTimer = (_op, fn) => fn();

export type { CreateHooks, CreateResult } from './create.js';
export type { ListFilter, PodKey } from './list.js';

/**
 * The pod use cases, the one door the routes, the watcher and the reconciler use. Every
 * operation holds the pod's lock, writes intent to the store before it touches the engine, and
 * leaves the pod in a stable state (or a transitional one that the reconciler finishes) whatever
 * fails. The work is done behind it: create.ts (create and its rollback), actions.ts (start,
 * stop, restart, delete), observed.ts (what the engine shows, as the watcher reports it).
 *
 * Emits 'state' (the pod, on every state change) and 'transition' (a PodTransition, after the
 * `transitions` sink recorded it).
 */
export class PodService extends EventEmitter {
  readonly #o: PodServiceOptions;
  readonly #timeOperation: OperationTimer;
  readonly #records: PodRecords;
  readonly #creator: PodCreator;
  readonly #actions: PodActions;
  readonly #observed: ObservedState;

  constructor(o: PodServiceOptions) {
    super();
    this.#o = o;
    this.#timeOperation = o.timeOperation ?? untimed;
    const records = new PodRecords({ repo: o.repo, transitions: o.transitions, bus: this, log: o.log, now: o.now ?? (() => new Date()) });
    const containers = new PodContainers(o);
    const observed = new ObservedState({ runtime: o.runtime, records });
    const parts = { records, containers, observed };
    this.#records = records;
    this.#observed = observed;
    this.#creator = new PodCreator({ ...o, requireNetstack: o.requireNetstack ?? false, ...parts });
    this.#actions = new PodActions({ ...o, ...parts });
  }

  /** The pod, or undefined when the store has no such pod. */
  find(id: string): Pod | undefined {
    return this.#o.repo.get(id);
  }

  get(id: string): Pod {
    return this.#records.get(id);
  }

  list(filter: ListFilter = {}): Pod[] {
    return this.#o.repo.list().filter((p) => matches(p, filter));
  }

  /** Changes whenever any pod does (a page built at an equal version is still exact). */
  get listVersion(): number {
    return this.#o.repo.version;
  }

  /** One page of the pods matching `filter` (list.ts pageOf). */
  page(filter: ListFilter, after: PodKey | undefined, limit: number): { items: Pod[]; more: boolean } {
    return pageOf(this.#o.repo.list(), filter, after, limit);
  }

  /**
   * `hooks.onIntent` is called once the pod's row is committed, before the engine is touched
   * (the Idempotency-Key layer links its record to the pod there).
   */
  /** The built-in templates, each with whether its image is on this host (null: custom, no image). */
  async templates(): Promise<(Template & { imagePresent: boolean | null })[]> {
    return Promise.all(
      Object.values(this.#o.templates).map(async (t) => ({ ...t, imagePresent: t.image ? await this.#o.runtime.imageExists(t.image) : null })),
    );
  }

  create(input: CreatePodInput, hooks: CreateHooks = {}): Promise<CreateResult> {
    return this.#timeOperation('create', () => this.#creator.create(input, hooks));
  }

  // restart runs its halves as the actions' private steps, so no operation is timed twice.
  start(id: string): Promise<Pod> {
    return this.#timeOperation('start', () => this.#actions.start(id));
  }

  stop(id: string, timeoutS = this.#o.stopTimeoutS): Promise<Pod> {
    return this.#timeOperation('stop', () => this.#actions.stop(id, timeoutS));
  }

  restart(id: string, timeoutS = this.#o.stopTimeoutS): Promise<Pod> {
    return this.#timeOperation('restart', () => this.#actions.restart(id, timeoutS));
  }

  delete(id: string, timeoutS = this.#o.stopTimeoutS): Promise<void> {
    return this.#timeOperation('delete', () => this.#actions.delete(id, timeoutS));
  }

  /** The reconciler's repairs: finish what a crash interrupted. */
  discardCreate(pod: Pod): Promise<void> {
    return this.#creator.discard(pod);
  }

  finishDelete(pod: Pod, timeoutS: number): Promise<void> {
    return this.#actions.finishDelete(pod, timeoutS);
  }

  /** What the watcher and the reconciler observed in the engine (observed.ts). */
  applyExit(podId: string, st: ContainerStatus): Pod {
    return this.#observed.applyExit(podId, st);
  }

  markRunning(podId: string, st: ContainerStatus): Pod {
    return this.#observed.markRunning(podId, st);
  }

  markGone(podId: string): Pod {
    return this.#observed.markGone(podId);
  }
}

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { PinacledError, isPinacledError, type ErrorCode } from '../errors.js';
import { EngineConflictError, EngineUnavailableError, withoutValues } from '../runtime/errors.js';
import { requireEngine } from '../runtime/guarded-runtime.js';
import type { ContainerRuntime, ContainerStatus } from '../runtime/container-runtime.js';
import { NameTakenError, PortsExhaustedError, type PodPatch, type PodsRepo } from '../store/pods-repo.js';
import type { EngineMonitor } from './engine-monitor.js';
import { listeningPorts } from './host-ports.js';
import { firstAfter, matches, type ListFilter, type PodKey } from './list.js';
import { containerNameFor, newPodId, volumeNameFor } from './ids.js';
import { LABEL, STORE_ID_LABEL } from './labels.js';
import type { PodLocks } from './locks.js';
import { chooseRuntime } from './runtime-choice.js';
import { buildContainerSpec } from './spec.js';
import type { PodNetworks } from '../network/pod-networks.js';
import { canTransition } from './state.js';
import type { Template } from './templates.js';
import type { PodTransition, TransitionSink } from './transitions.js';
import type { CreatePodInput, Pod, PodState, TemplateName } from './types.js';

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

export interface CreateHooks {
  /** Called with the new pod's id once its row is committed, before the engine is touched. */
  onIntent?: (podId: string) => void;
}

export interface CreateResult {
  pod: Pod;
  /** Values pinacled generated for the pod (code-server's PASSWORD); shown only here, once. */
  secrets: Record<string, string>;
}

export type { ListFilter, PodKey } from './list.js';

/**
 * The pod use cases. Every operation holds the pod's lock, writes intent to the store before it
 * touches the engine, and leaves the pod in a stable state (or a transitional one that the
 * reconciler finishes) whatever fails.
 */
export class PodService extends EventEmitter {
  readonly #o: PodServiceOptions;
  readonly #now: () => Date;

  constructor(o: PodServiceOptions) {
    super();
    this.#o = o;
    this.#now = o.now ?? (() => new Date());
  }

  /** restart runs its halves as private steps, so no operation is timed twice. */
  #timed<T>(op: PodOperation, fn: () => Promise<T>): Promise<T> {
    return (this.#o.timeOperation ?? untimed)(op, fn);
  }

  #ts(): string {
    return this.#now().toISOString();
  }

  /** The sink first (the event feed stores it), then the 'transition' listeners. */
  #emit(pod: Pick<Pod, 'id' | 'name'>, type: PodTransition['type'], details: Record<string, unknown> = {}): void {
    const tr: PodTransition = { podId: pod.id, podName: pod.name, type, details };
    this.#o.transitions.record(tr);
    this.emit('transition', tr);
  }

  #log(pod: Pick<Pod, 'id' | 'name'>): Logger {
    return this.#o.log.child({ podId: pod.id, podName: pod.name });
  }

  #update(id: string, patch: PodPatch): Pod {
    const pod = this.#o.repo.update(id, patch, this.#ts());
    if (!pod) throw new PinacledError('PINACLED_ERR_POD_NOT_FOUND', `No pod ${id}`);
    // Every state change, transitional ones included (waiters in GET /v1/pods/{id}/wait).
    if (patch.state) this.emit('state', pod);
    return pod;
  }

  /** The pod, or undefined when the store has no such pod. */
  find(id: string): Pod | undefined {
    return this.#o.repo.get(id);
  }

  get(id: string): Pod {
    const pod = this.#o.repo.get(id);
    if (!pod) throw new PinacledError('PINACLED_ERR_POD_NOT_FOUND', `No pod ${id}`);
    return pod;
  }

  list(filter: ListFilter = {}): Pod[] {
    return this.#o.repo.list().filter((p) => matches(p, filter));
  }

  /** Changes whenever any pod does (a page built at an equal version is still exact). */
  get listVersion(): number {
    return this.#o.repo.version;
  }

  /**
   * One page of the pods matching `filter`, in list order (creation time, then id): at most
   * `limit` pods after the position `after` (a pod's sort key; that pod may be gone since).
   * `more` is true when matching pods follow the page. Finding the start is a binary search,
   * so a page costs the same at 10 pods and at 10,000.
   */
  page(filter: ListFilter, after: PodKey | undefined, limit: number): { items: Pod[]; more: boolean } {
    const all = this.#o.repo.list();
    let i = after ? firstAfter(all, after) : 0;
    const items: Pod[] = [];
    for (; i < all.length; i++) {
      const p = all[i]!;
      if (!matches(p, filter)) continue;
      if (items.length === limit) return { items, more: true };
      items.push(p);
    }
    return { items, more: false };
  }

  /**
   * `hooks.onIntent` is called once the pod's row is committed, before the engine is touched
   * (the Idempotency-Key layer links its record to the pod there).
   */
  create(input: CreatePodInput, hooks: CreateHooks = {}): Promise<CreateResult> {
    return this.#timed('create', () => this.#create(input, hooks));
  }

  async #create(input: CreatePodInput, hooks: CreateHooks): Promise<CreateResult> {
    const template = this.#o.templates[input.template];
    const image = template.image ?? input.image!;
    const health = this.#o.engine.health.reachable ? this.#o.engine.health : await this.#o.engine.check();
    if (!health.reachable || !health.info) {
      throw new EngineUnavailableError(`container engine unreachable at create: ${health.error ?? 'unknown'}`);
    }
    const choice = chooseRuntime(health.info, {
      configured: this.#o.runtimeName,
      allowUnsandboxed: this.#o.allowUnsandboxed,
      requireNetstack: this.#o.requireNetstack ?? false,
      platform: input.sandbox?.platform
        ? { value: input.sandbox.platform, explicit: true }
        : template.platform && { value: template.platform, explicit: false },
    });
    this.#requireFirewall();
    if (!choice.sandboxed) this.#o.log.warn({ name: input.name }, 'creating an UNSANDBOXED pod (PINACLED_ALLOW_UNSANDBOXED is set)');
    if (!(await this.#o.runtime.imageExists(image))) {
      throw new PinacledError('PINACLED_ERR_IMAGE_NOT_FOUND', `Image ${image} is not present on this host; build or load it first`, {
        fields: [{ field: input.template === 'custom' ? 'image' : 'template', message: `image ${image} is not present` }],
      });
    }
    const secrets: Record<string, string> = {};
    const derived: Record<string, string> = {};
    for (const s of template.generatedSecrets) {
      if (input.env?.[s.name] || input.env?.[s.envKey]) continue;
      secrets[s.name] = randomBytes(18).toString('base64url');
      derived[s.envKey] = s.derive(secrets[s.name]!);
    }
    const requested = new Map<number, string | null>(template.ports.map((p) => [p.containerPort, p.name]));
    for (const p of input.ports ?? []) requested.set(p.containerPort, p.name ?? requested.get(p.containerPort) ?? null);
    const id = newPodId();
    const now = this.#ts();
    let pod: Pod;
    try {
      const busy = await listeningPorts();
      pod = this.#o.repo.insertWithPorts(
        {
          id,
          name: input.name,
          template: input.template,
          image,
          command: input.command ?? null,
          state: 'creating',
          runtime: choice.runtime,
          sandboxed: choice.sandboxed,
          resources: { ...template.resources, ...input.resources },
          env: { ...input.env, ...derived },
          labels: input.labels ?? {},
          containerName: containerNameFor(id),
          volumeName: volumeNameFor(id),
          containerId: null,
          createdAt: now,
          updatedAt: now,
          startedAt: null,
          finishedAt: null,
          exitCode: null,
          oomKilled: false,
          error: null,
        },
        [...requested].map(([containerPort, name]) => ({ containerPort, name })),
        this.#o.publishHost,
        this.#o.portRange,
        (port) => !busy.has(port),
      );
    } catch (err) {
      if (err instanceof NameTakenError) {
        throw new PinacledError('PINACLED_ERR_NAME_TAKEN', `A pod named ${input.name} exists`, { fields: [{ field: 'name', message: 'is taken' }] });
      }
      if (err instanceof PortsExhaustedError) throw new PinacledError('PINACLED_ERR_PORTS_EXHAUSTED', err.message);
      throw err;
    }
    const log = this.#log(pod);
    return this.#o.locks.with(pod.id, 'create', async () => {
      try {
        hooks.onIntent?.(pod.id);
      } catch (err) {
        log.warn({ err: errMessage(err) }, 'create intent hook failed');
      }
      try {
        await this.#o.runtime.createVolume(pod.volumeName, this.#ownerLabels(pod));
        const containerId = await this.#createContainer(pod);
        // The pod stays `creating` until its container ran: a crash anywhere before the 201
        // leaves a `creating` row, and the reconciler rolls the whole create back.
        this.#update(pod.id, { containerId });
        this.#emit(pod, 'created', { image, runtime: pod.runtime, sandboxed: pod.sandboxed });
        await this.#o.runtime.startContainer(containerId);
        const started = await this.#settleAfterStart(pod.id);
        log.info({ state: started.state, hostPorts: started.ports.map((p) => p.hostPort) }, 'pod created');
        return { pod: started, secrets };
      } catch (err) {
        log.warn({ err: errMessage(err) }, 'pod create failed; rolling back');
        await this.#rollbackCreate(pod);
        throw mapRuntimeError(err);
      }
    });
  }

  #ownerLabels(pod: Pod): Record<string, string> {
    return { [LABEL.MANAGED]: 'true', [LABEL.POD_ID]: pod.id, [STORE_ID_LABEL]: this.#o.storeId };
  }

  async #createContainer(pod: Pod): Promise<string> {
    const networks = this.#o.networks;
    // Before the container: Docker attaches it to its network at create.
    const network = networks ? await networks.ensure(pod.id, this.#ownerLabels(pod), LABEL.POD_ID) : null;
    const spec = buildContainerSpec(pod, { logMaxSize: this.#o.logMaxSize, logMaxFile: this.#o.logMaxFile, maxHostPids: this.#o.maxHostPids, maxNofile: this.#o.maxNofile, network });
    spec.labels[STORE_ID_LABEL] = this.#o.storeId;
    try {
      return await this.#o.runtime.createContainer(spec);
    } catch (err) {
      // The only call that carries env values: an engine message quoting them must not be logged.
      if (!(err instanceof EngineConflictError)) throw mapRuntimeError(withoutValues(err, Object.values(spec.env)));
      // A container with our deterministic name exists: a retry after a crash. Adopt it only
      // if it carries this pod's id, otherwise refuse.
      const existing = await this.#o.runtime.inspectContainer(spec.name);
      if (existing && existing.labels[LABEL.POD_ID] === pod.id) return existing.id;
      throw new PinacledError('PINACLED_ERR_ENGINE', `Container name ${spec.name} is held by a container pinacled does not own`);
    }
  }

  /**
   * After a failed create: remove what it made, then drop the row (frees name and ports). When
   * the engine (or the store) fails too, the row stays `creating` and the reconciler finishes
   * the rollback when it can: the row is dropped only after its engine objects are gone, so a
   * labelled container without a row never comes from here.
   */
  async #rollbackCreate(pod: Pod): Promise<void> {
    try {
      await this.discardCreate(pod);
    } catch (err) {
      this.#log(pod).warn({ err: errMessage(err) }, 'create rollback left for the reconciler');
      try {
        this.#o.repo.update(pod.id, { error: { code: 'ROLLBACK_PENDING', message: 'the failed create is being rolled back' } }, this.#ts());
      } catch {
        // The store refuses writes too (disk full): the row stays `creating` all the same.
      }
    }
  }

  /** Removes a never-acknowledged pod: container, volume, then the row. Throws if any step fails. */
  async discardCreate(pod: Pod): Promise<void> {
    await this.#o.runtime.removeContainer(pod.containerName);
    await this.#o.runtime.removeVolume(pod.volumeName);
    await this.#removeNetwork(pod);
    this.#o.repo.delete(pod.id);
    this.#emit(pod, 'deleted', { rolledBack: true });
  }

  /** Reads the container after a start: running, or already exited (bad command). */
  async #settleAfterStart(podId: string): Promise<Pod> {
    const pod = this.get(podId);
    const st = await this.#o.runtime.inspectContainer(pod.containerName);
    if (!st) {
      return this.#update(podId, { state: 'failed', error: { code: 'CONTAINER_GONE', message: 'the container disappeared during start' } });
    }
    if (st.running) {
      const p = this.#update(podId, { state: 'running', startedAt: st.startedAt, finishedAt: null, exitCode: null, oomKilled: false, error: null });
      this.#emit(p, 'started');
      return p;
    }
    return this.applyExit(podId, st);
  }

  /** Records that a pod's container is no longer running (exit, kill, OOM). */
  applyExit(podId: string, st: ContainerStatus): Pod {
    const pod = this.get(podId);
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
    const p = this.#update(podId, patch);
    if (pod.state !== 'stopped' || pod.exitCode !== st.exitCode) {
      this.#emit(p, st.oomKilled ? 'oom-killed' : 'exited', { exitCode: st.exitCode, oomKilled: st.oomKilled });
    }
    return p;
  }

  /** The container was started outside the API (`docker start`). */
  markRunning(podId: string, st: ContainerStatus): Pod {
    const pod = this.get(podId);
    if (pod.state === 'running' && pod.startedAt === st.startedAt) return pod;
    const p = this.#update(podId, { state: 'running', startedAt: st.startedAt, finishedAt: null, exitCode: null, oomKilled: false, error: null });
    this.#emit(p, 'started', { outside: true });
    return p;
  }

  /** The container vanished outside the API (`docker rm`): the pod stays, marked failed. */
  markGone(podId: string): Pod {
    const pod = this.get(podId);
    if (pod.state === 'failed' && pod.error?.code === 'CONTAINER_GONE') return pod;
    const p = this.#update(podId, {
      state: 'failed',
      error: { code: 'CONTAINER_GONE', message: 'the container was removed outside pinacled; start the pod to recreate it' },
    });
    this.#emit(p, 'failed', { reason: 'CONTAINER_GONE' });
    return p;
  }

  #transition(pod: Pod, to: PodState, op: string): void {
    if (!canTransition(pod.state, to)) {
      throw new PinacledError('PINACLED_ERR_INVALID_TRANSITION', `Cannot ${op} a pod that is ${pod.state}`);
    }
  }

  async start(id: string): Promise<Pod> {
    return this.#timed('start', () => this.#o.locks.with(id, 'start', () => this.#startLocked(id)));
  }

  /**
   * Every path that runs a container (create, start, restart, the recreate of a pod whose
   * container is gone) passes here first: no pod runs while the host firewall policy that
   * isolates it is missing or not yet verified (the guard's status starts not-ok until its
   * first check passed), so it cannot reach the metadata address or private ranges in a gap.
   */
  #requireFirewall(): void {
    if (this.#o.firewall && !this.#o.firewall.status.ok) {
      throw new PinacledError('PINACLED_ERR_FIREWALL_UNAVAILABLE', 'The host firewall policy that isolates pods is not in place; see /readyz');
    }
  }

  async #startLocked(id: string): Promise<Pod> {
    const pod = this.get(id);
    if (pod.state === 'running') return pod;
    this.#transition(pod, 'starting', 'start');
    this.#requireFirewall();
    const existing = await this.#o.runtime.inspectContainer(pod.containerName);
    let containerId = existing?.id;
    this.#update(id, { state: 'starting' });
    try {
      if (!containerId) {
        // Removed behind our back: recreate it from the pod's spec; the volume keeps the data
        // (createVolume is a no-op when it exists).
        await this.#o.runtime.createVolume(pod.volumeName, this.#ownerLabels(pod));
        containerId = await this.#createContainer(pod);
        this.#update(id, { containerId });
      }
      await this.#o.runtime.startContainer(containerId!);
      return await this.#settleAfterStart(id);
    } catch (err) {
      await this.#restoreObservedState(id, err);
      throw mapRuntimeError(err);
    }
  }

  async stop(id: string, timeoutS = this.#o.stopTimeoutS): Promise<Pod> {
    return this.#timed('stop', () => this.#o.locks.with(id, 'stop', () => this.#stopLocked(id, timeoutS)));
  }

  async #stopLocked(id: string, timeoutS: number): Promise<Pod> {
    const pod = this.get(id);
    if (pod.state === 'stopped' || pod.state === 'failed') return pod;
    this.#transition(pod, 'stopping', 'stop');
    await requireEngine(this.#o.engine);
    this.#update(id, { state: 'stopping' });
    try {
      await this.#o.runtime.stopContainer(pod.containerName, timeoutS);
      const st = await this.#o.runtime.inspectContainer(pod.containerName);
      if (!st) return this.#update(id, { state: 'failed', error: { code: 'CONTAINER_GONE', message: 'the container was removed outside pinacled' } });
      const p = this.applyExit(id, st);
      this.#emit(p, 'stopped', { exitCode: st.exitCode });
      return p;
    } catch (err) {
      await this.#restoreObservedState(id, err);
      throw mapRuntimeError(err);
    }
  }

  restart(id: string, timeoutS = this.#o.stopTimeoutS): Promise<Pod> {
    return this.#timed('restart', () => this.#restart(id, timeoutS));
  }

  async #restart(id: string, timeoutS: number): Promise<Pod> {
    // One lock over both halves: no other operation (or event) slips in between.
    const pod = await this.#o.locks.with(id, 'restart', async () => {
      // Refused before the stop: a restart that could not start again must not stop the pod.
      if (this.get(id).state === 'running') this.#requireFirewall();
      await this.#stopLocked(id, timeoutS);
      return this.#startLocked(id);
    });
    this.#emit(pod, 'restarted');
    return pod;
  }

  delete(id: string, timeoutS = this.#o.stopTimeoutS): Promise<void> {
    return this.#timed('delete', () => this.#delete(id, timeoutS));
  }

  async #delete(id: string, timeoutS: number): Promise<void> {
    return this.#o.locks.with(id, 'delete', async () => {
      const pod = this.get(id);
      this.#transition(pod, 'deleting', 'delete');
      await requireEngine(this.#o.engine);
      this.#update(id, { state: 'deleting' });
      try {
        await this.finishDelete(pod, timeoutS);
      } catch (err) {
        // Stays `deleting` with the reason: a retried DELETE or the reconciler finishes it.
        this.#update(id, { error: { code: codeOf(err), message: 'delete did not finish; it is retried' } });
        throw mapRuntimeError(err);
      }
    });
  }

  /** Stops and removes container and volume, then the row. Used by delete and the reconciler. */
  /** After the container: a network with an attached container cannot be removed. */
  async #removeNetwork(pod: Pod): Promise<void> {
    const networks = this.#o.networks;
    if (networks) await networks.remove(pod.id);
  }

  async finishDelete(pod: Pod, timeoutS: number): Promise<void> {
    await this.#o.runtime.stopContainer(pod.containerName, timeoutS);
    await this.#o.runtime.removeContainer(pod.containerName);
    await this.#o.runtime.removeVolume(pod.volumeName);
    await this.#removeNetwork(pod);
    this.#o.repo.delete(pod.id);
    this.#log(pod).info('pod deleted');
    this.#emit(pod, 'deleted');
  }

  /** After a failed start/stop, record what the engine really shows (if it answers). */
  async #restoreObservedState(id: string, err: unknown): Promise<void> {
    const error = { code: codeOf(err), message: isPinacledError(err) ? err.message : 'engine operation failed' };
    try {
      const pod = this.get(id);
      // Through the guarded runtime: with the engine known down this fails fast instead of
      // waiting out the call deadline on a hung engine.
      const st = await this.#o.runtime.inspectContainer(pod.containerName);
      if (!st) this.#update(id, { state: 'failed', error });
      else if (st.running) this.#update(id, { state: 'running', error });
      else this.#update(id, { state: 'stopped', exitCode: st.exitCode, error });
    } catch {
      // The engine is unreachable: the reconciler settles the state when it returns.
      this.#update(id, { error });
    }
  }
}

/** For logs: the engine's own detail where we have it. */
function errMessage(err: unknown): string {
  const detail = (err as { detailForLogs?: string }).detailForLogs;
  return detail ?? (err instanceof Error ? err.message : String(err));
}

function codeOf(err: unknown): ErrorCode {
  return isPinacledError(err) ? err.code : 'PINACLED_ERR_INTERNAL';
}

/** The engine answers "unknown runtime" when the sandbox runtime vanished from its config. */
function mapRuntimeError(err: unknown): unknown {
  if (isPinacledError(err, 'PINACLED_ERR_ENGINE')) {
    const detail = (err as { detailForLogs?: string }).detailForLogs ?? '';
    if (/unknown runtime|runtime .* not found/i.test(detail)) {
      return new PinacledError('PINACLED_ERR_RUNTIME_UNAVAILABLE', 'The sandbox runtime is not registered with the container engine', { cause: err });
    }
  }
  return err;
}

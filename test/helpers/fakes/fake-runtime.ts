import { randomBytes } from 'node:crypto';
import { overlaps, parseCidr } from '../../../src/network/cidr.js';
import { ContainerNotRunningError, EngineConflictError, EngineError, EngineUnavailableError, ImageMissingError, SubnetOverlapError } from '../../../src/runtime/errors.js';
import { FakeExecs } from './fake-exec.js';
import { FakeLogs } from './fake-logs.js';
import type {
  ContainerRuntime,
  ContainerSpec,
  ContainerStats,
  ContainerStatus,
  ContainerSummary,
  EngineEvent,
  EngineInfo,
  EventSubscription,
  ExecOptions,
  ExecSession,
  LogOptions,
  LogStream,
  NetworkSpec,
  NetworkSummary,
  VolumeSummary,
} from '../../../src/runtime/container-runtime.js';

interface FakeContainer {
  id: string;
  spec: ContainerSpec;
  status: ContainerStatus;
}

type Method = keyof ContainerRuntime;

/**
 * An in-memory ContainerRuntime for fast API tests and failure injection. It is never the proof
 * that a feature works against Docker: test/integration does that with a real engine.
 *
 * - `down = true` makes every call fail as an unreachable engine.
 * - `failNext(method, err)` makes the next call of one method throw.
 * - `calls` counts calls per method (to assert, e.g., that a scrape made none).
 * - `exit(name, code)` simulates a container exiting on its own (emits `die`).
 */
export class FakeRuntime implements ContainerRuntime {
  images = new Set<string>(['pinacled/testbox:1']);
  runtimes = ['runc', 'runsc'];
  /** runtimeArgs per runtime, as `docker info` reports them (absent: none). */
  runtimeArgs: Record<string, string[]> = {};
  /** The binary of each runtime, as `docker info` reports it (absent: the name). */
  runtimePaths: Record<string, string> = {};
  down = false;
  readonly containers = new Map<string, FakeContainer>();
  readonly volumes = new Map<string, VolumeSummary>();
  /** Networks by name; tests may add foreign ones to occupy subnets. */
  readonly networks = new Map<string, NetworkSummary & { bridgeName?: string }>();
  readonly calls: Partial<Record<Method, number>> = {};
  /** Container output: `logs.append(containerId, 'stdout', text)` writes, `logs.openStreams` counts. */
  readonly logs = new FakeLogs();
  /** Processes run by exec: `execs.records`, `execs.programs` (see fake-exec.ts). */
  readonly execs = new FakeExecs();
  /** What containerStats answers for a container id (over zeros and the spec's limits). */
  readonly stats = new Map<string, Partial<ContainerStats>>();
  readonly #failures = new Map<Method, Error[]>();
  readonly #subs = new Set<{ filter: string; onEvent: (e: EngineEvent) => void; onError: (e: Error) => void }>();
  /** Delay (ms) added to every call, to widen race windows in tests. */
  latencyMs = 0;
  /** Containers ignore SIGTERM: a stop takes its whole grace period, then kills (as the engine does). */
  ignoreSigterm = false;

  failNext(method: Method, err: Error = new EngineUnavailableError('injected failure')): void {
    const list = this.#failures.get(method) ?? [];
    list.push(err);
    this.#failures.set(method, list);
  }

  async #enter(method: Method): Promise<void> {
    this.calls[method] = (this.calls[method] ?? 0) + 1;
    if (this.latencyMs) await new Promise((r) => setTimeout(r, this.latencyMs));
    if (this.down) throw new EngineUnavailableError(`fake engine down (${method})`);
    const injected = this.#failures.get(method)?.shift();
    if (injected) throw injected;
  }

  totalCalls(): number {
    return Object.values(this.calls).reduce((a, b) => a + (b ?? 0), 0);
  }

  #find(idOrName: string): FakeContainer | undefined {
    for (const c of this.containers.values()) if (c.id === idOrName || c.spec.name === idOrName) return c;
    return undefined;
  }

  #emit(c: FakeContainer, action: string, exitCode: number | null = null): void {
    const e: EngineEvent = { id: c.id, action, labels: c.spec.labels, timeNano: BigInt(Date.now()) * 1_000_000n, exitCode };
    for (const s of this.#subs) {
      const [k, v] = s.filter.split('=');
      if (k && c.spec.labels[k] === v) s.onEvent(e);
    }
  }

  async info(): Promise<EngineInfo> {
    await this.#enter('info');
    return { version: 'fake', apiVersion: '1.41', runtimes: this.runtimes, runtimeArgs: this.runtimeArgs, runtimePaths: this.runtimePaths, defaultRuntime: 'runc', cgroupVersion: '1', cgroupDriver: 'cgroupfs' };
  }

  async imageExists(ref: string): Promise<boolean> {
    await this.#enter('imageExists');
    return this.images.has(ref);
  }

  async createVolume(name: string, labels: Record<string, string>): Promise<void> {
    await this.#enter('createVolume');
    if (!this.volumes.has(name)) this.volumes.set(name, { name, labels });
  }

  async removeVolume(name: string): Promise<void> {
    await this.#enter('removeVolume');
    for (const c of this.containers.values()) {
      if (c.spec.volumes.some((v) => v.volume === name)) throw new EngineError(`volume ${name} is in use`, 409);
    }
    this.volumes.delete(name);
  }

  async listVolumes(labelFilter: string): Promise<VolumeSummary[]> {
    await this.#enter('listVolumes');
    const [k, v] = labelFilter.split('=');
    return [...this.volumes.values()].filter((x) => k && (v === undefined ? k in x.labels : x.labels[k] === v));
  }

  async createNetwork(spec: NetworkSpec): Promise<string> {
    await this.#enter('createNetwork');
    if (this.networks.has(spec.name)) throw new EngineConflictError(`network ${spec.name} exists`);
    const want = parseCidr(spec.subnet);
    for (const n of this.networks.values()) {
      for (const s of n.subnets) {
        const c = parseCidr(s);
        if (want && c && overlaps(want, c)) throw new SubnetOverlapError(`subnet ${spec.subnet} overlaps ${n.name}`);
      }
    }
    const id = randomBytes(32).toString('hex');
    this.networks.set(spec.name, { id, name: spec.name, labels: { ...spec.labels }, subnets: [spec.subnet], bridgeName: spec.bridgeName });
    return id;
  }

  async removeNetwork(nameOrId: string): Promise<void> {
    await this.#enter('removeNetwork');
    const n = [...this.networks.values()].find((x) => x.name === nameOrId || x.id === nameOrId);
    if (!n) return;
    for (const c of this.containers.values()) {
      if (c.spec.network === n.name) throw new EngineError(`network ${n.name} has active endpoints`, 403);
    }
    this.networks.delete(n.name);
  }

  async listNetworks(labelFilter?: string): Promise<NetworkSummary[]> {
    await this.#enter('listNetworks');
    const [k, v] = (labelFilter ?? '').split('=');
    return [...this.networks.values()]
      .filter((x) => !labelFilter || (k && (v === undefined ? k in x.labels : x.labels[k] === v)))
      .map((x) => ({ id: x.id, name: x.name, labels: { ...x.labels }, subnets: [...x.subnets] }));
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    await this.#enter('createContainer');
    if (spec.network && spec.network !== 'bridge' && !this.networks.has(spec.network)) throw new EngineError(`network ${spec.network} not found`, 404);
    if (!this.images.has(spec.image)) throw new ImageMissingError(spec.image);
    if (!this.runtimes.includes(spec.runtime)) throw new EngineError(`unknown runtime specified ${spec.runtime}`, 400);
    if (this.#find(spec.name)) throw new EngineConflictError(`name ${spec.name} in use`);
    const id = randomBytes(32).toString('hex');
    const c: FakeContainer = {
      id,
      spec: structuredClone(spec),
      status: {
        id,
        name: spec.name,
        labels: spec.labels,
        image: spec.image,
        runtime: spec.runtime,
        status: 'created',
        running: false,
        exitCode: null,
        oomKilled: false,
        startedAt: null,
        finishedAt: null,
        pid: null,
        error: null,
      },
    };
    this.containers.set(id, c);
    this.#emit(c, 'create');
    return id;
  }

  async startContainer(id: string): Promise<void> {
    await this.#enter('startContainer');
    const c = this.#find(id);
    if (!c) throw new EngineError(`no such container ${id}`, 404);
    if (c.status.running) return;
    Object.assign(c.status, { status: 'running', running: true, exitCode: null, oomKilled: false, startedAt: new Date().toISOString(), finishedAt: null, pid: 4242 });
    this.#emit(c, 'start');
  }

  async stopContainer(id: string, timeoutS: number): Promise<void> {
    await this.#enter('stopContainer');
    const c = this.#find(id);
    if (!c?.status.running) return;
    if (this.ignoreSigterm) await new Promise((r) => setTimeout(r, timeoutS * 1000));
    if (!c.status.running) return;
    this.#setExited(c, 137, false);
  }

  #setExited(c: FakeContainer, code: number, oom: boolean): void {
    Object.assign(c.status, { status: 'exited', running: false, exitCode: code, oomKilled: oom, finishedAt: new Date().toISOString(), pid: null });
    this.logs.endFollowers(c.id);
    if (oom) this.#emit(c, 'oom');
    this.#emit(c, 'die', code);
  }

  async removeContainer(id: string): Promise<void> {
    await this.#enter('removeContainer');
    const c = this.#find(id);
    if (!c) return;
    this.containers.delete(c.id);
    this.logs.endFollowers(c.id);
    this.#emit(c, 'destroy');
  }

  async inspectContainer(id: string): Promise<ContainerStatus | undefined> {
    await this.#enter('inspectContainer');
    const c = this.#find(id);
    return c && structuredClone(c.status);
  }

  async openLogs(id: string, opts: LogOptions): Promise<LogStream | undefined> {
    await this.#enter('openLogs');
    const c = this.#find(id);
    return c && this.logs.open(c.id, c.status.running, opts);
  }

  async exec(id: string, opts: ExecOptions): Promise<ExecSession | undefined> {
    await this.#enter('exec');
    const c = this.#find(id);
    if (!c) return undefined;
    if (!c.status.running) throw new ContainerNotRunningError(id);
    return this.execs.start(c.id, opts);
  }

  async containerStats(id: string): Promise<ContainerStats | undefined> {
    await this.#enter('containerStats');
    const c = this.#find(id);
    if (!c?.status.running) return undefined;
    return {
      readAt: new Date().toISOString(),
      cpuUsageNs: 0,
      cpuThrottledNs: 0,
      memoryUsageBytes: 0,
      memoryWorkingSetBytes: 0,
      memoryLimitBytes: c.spec.limits.memoryBytes,
      pids: 1,
      pidsLimit: c.spec.limits.pidsLimit,
      networkRxBytes: 0,
      networkTxBytes: 0,
      ...this.stats.get(c.id),
    };
  }

  async listContainers(labelFilter: string): Promise<ContainerSummary[]> {
    await this.#enter('listContainers');
    const [k, v] = labelFilter.split('=');
    return [...this.containers.values()]
      .filter((c) => k && (v === undefined ? k in c.spec.labels : c.spec.labels[k] === v))
      .map((c) => ({ id: c.id, name: c.spec.name, labels: c.spec.labels, status: c.status.status }));
  }

  async subscribeEvents(
    labelFilter: string,
    _since: Date | undefined,
    onEvent: (e: EngineEvent) => void,
    onError: (err: Error) => void,
  ): Promise<EventSubscription> {
    await this.#enter('subscribeEvents');
    const sub = { filter: labelFilter, onEvent, onError };
    this.#subs.add(sub);
    return { close: () => void this.#subs.delete(sub) };
  }

  // ---- test controls -------------------------------------------------------------------

  /** Simulates the container's process exiting on its own. */
  exit(idOrName: string, code: number, opts: { oom?: boolean } = {}): void {
    const c = this.#find(idOrName);
    if (!c) throw new Error(`fake: no container ${idOrName}`);
    this.#setExited(c, code, opts.oom ?? false);
  }

  /** Simulates `docker rm -f` behind pinacled's back. */
  removeBehindBack(idOrName: string): void {
    const c = this.#find(idOrName);
    if (!c) throw new Error(`fake: no container ${idOrName}`);
    this.containers.delete(c.id);
    this.logs.endFollowers(c.id);
    this.#emit(c, 'destroy');
  }

  /** Simulates the engine's event stream breaking (engine restart). */
  breakEventStreams(): void {
    for (const s of [...this.#subs]) {
      this.#subs.delete(s);
      s.onError(new EngineUnavailableError('fake event stream broken'));
    }
  }

  specOf(idOrName: string): ContainerSpec | undefined {
    return this.#find(idOrName)?.spec;
  }
}

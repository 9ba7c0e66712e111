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
} from './container-runtime.js';

/**
 * A ContainerRuntime in front of another: every method forwards through `call(operation, fn)`,
 * which subclasses override (GuardedRuntime, InstrumentedRuntime). An explicit class rather
 * than a Proxy: a method added to the seam fails to compile here until it is forwarded, and the
 * inner runtime keeps itself as `this` (DockerRuntime keeps its clients in #private fields).
 */
export class RuntimeDecorator implements ContainerRuntime {
  protected readonly inner: ContainerRuntime;
  /** Optional on the seam: present only when the inner runtime has it. */
  readonly containerStats?: (id: string) => Promise<ContainerStats | undefined>;

  constructor(inner: ContainerRuntime) {
    this.inner = inner;
    const stats = inner.containerStats;
    if (stats) this.containerStats = (id) => this.call('containerStats', () => stats.call(inner, id));
  }

  /** Runs one engine call; the base forwards it unchanged. */
  protected call<T>(_operation: string, fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  info(): Promise<EngineInfo> {
    return this.call('info', () => this.inner.info());
  }
  imageExists(ref: string): Promise<boolean> {
    return this.call('imageExists', () => this.inner.imageExists(ref));
  }
  createVolume(name: string, labels: Record<string, string>): Promise<void> {
    return this.call('createVolume', () => this.inner.createVolume(name, labels));
  }
  removeVolume(name: string): Promise<void> {
    return this.call('removeVolume', () => this.inner.removeVolume(name));
  }
  listVolumes(labelFilter: string): Promise<VolumeSummary[]> {
    return this.call('listVolumes', () => this.inner.listVolumes(labelFilter));
  }
  createNetwork(spec: NetworkSpec): Promise<string> {
    return this.call('createNetwork', () => this.inner.createNetwork(spec));
  }
  removeNetwork(nameOrId: string): Promise<void> {
    return this.call('removeNetwork', () => this.inner.removeNetwork(nameOrId));
  }
  listNetworks(labelFilter?: string): Promise<NetworkSummary[]> {
    return this.call('listNetworks', () => this.inner.listNetworks(labelFilter));
  }
  createContainer(spec: ContainerSpec): Promise<string> {
    return this.call('createContainer', () => this.inner.createContainer(spec));
  }
  startContainer(id: string): Promise<void> {
    return this.call('startContainer', () => this.inner.startContainer(id));
  }
  stopContainer(id: string, timeoutS: number): Promise<void> {
    return this.call('stopContainer', () => this.inner.stopContainer(id, timeoutS));
  }
  removeContainer(id: string): Promise<void> {
    return this.call('removeContainer', () => this.inner.removeContainer(id));
  }
  inspectContainer(id: string): Promise<ContainerStatus | undefined> {
    return this.call('inspectContainer', () => this.inner.inspectContainer(id));
  }
  listContainers(labelFilter: string): Promise<ContainerSummary[]> {
    return this.call('listContainers', () => this.inner.listContainers(labelFilter));
  }
  subscribeEvents(labelFilter: string, since: Date | undefined, onEvent: (e: EngineEvent) => void, onError: (err: Error) => void): Promise<EventSubscription> {
    return this.call('subscribeEvents', () => this.inner.subscribeEvents(labelFilter, since, onEvent, onError));
  }
  openLogs(id: string, opts: LogOptions): Promise<LogStream | undefined> {
    return this.call('openLogs', () => this.inner.openLogs(id, opts));
  }
  exec(id: string, opts: ExecOptions): Promise<ExecSession | undefined> {
    return this.call('exec', () => this.inner.exec(id, opts));
  }
}

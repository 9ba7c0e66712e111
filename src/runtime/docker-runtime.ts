import Docker from 'dockerode';
import { mapError, status, type ModemError } from './docker-errors.js';
import { startExec } from './docker-exec.js';
import { toDockerCreateBody, toDockerNetworkBody } from './docker-spec.js';
import { EngineConflictError, EngineUnavailableError, ImageMissingError, SubnetOverlapError } from './errors.js';
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

export interface DockerRuntimeOptions {
  /** DOCKER_HOST as Docker defines it (unix:///path or tcp://host:port); default: the local socket. */
  dockerHost?: string | undefined;
  /** Deadline of every engine call, except stop (which adds the grace period). */
  timeoutMs: number;
}

function modemOptions(dockerHost: string | undefined): Docker.DockerOptions {
  if (!dockerHost) return { socketPath: '/var/run/docker.sock' };
  const url = new URL(dockerHost);
  if (url.protocol === 'unix:') return { socketPath: url.pathname };
  if (url.protocol === 'tcp:' || url.protocol === 'http:') {
    return { host: url.hostname, port: Number(url.port || 2375), protocol: 'http' };
  }
  throw new Error(`DOCKER_HOST: unsupported scheme ${url.protocol} (use unix:// or tcp://)`);
}

export class DockerRuntime implements ContainerRuntime {
  /** Unary calls: the modem's socket timeout is their deadline. */
  readonly #docker: Docker;
  /** Long calls (stop with a grace period, event and log streams): no socket timeout. */
  readonly #long: Docker;
  /**
   * Container create/start/remove: Docker copies an image's /workspace into a new named volume
   * during these calls (4-20 s for the nextjs starter under load), and tearing down a runsc
   * sandbox is slow too; a 15 s deadline would abandon work the engine then finishes anyway.
   */
  readonly #slow: Docker;
  readonly #timeoutMs: number;

  constructor(opts: DockerRuntimeOptions) {
    this.#docker = new Docker({ ...modemOptions(opts.dockerHost), timeout: opts.timeoutMs });
    this.#long = new Docker(modemOptions(opts.dockerHost));
    this.#slow = new Docker({ ...modemOptions(opts.dockerHost), timeout: Math.max(opts.timeoutMs * 4, 120_000) });
    this.#timeoutMs = opts.timeoutMs;
  }

  async #call<T>(op: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw mapError(op, err);
    }
  }

  async info(): Promise<EngineInfo> {
    const info = await this.#call('info', () => this.#docker.info());
    return {
      version: String(info.ServerVersion ?? ''),
      apiVersion: '',
      runtimes: Object.keys(info.Runtimes ?? {}),
      runtimeArgs: Object.fromEntries(
        Object.entries((info.Runtimes ?? {}) as Record<string, { runtimeArgs?: unknown }>).map(([n, r]) => [
          n,
          Array.isArray(r?.runtimeArgs) ? r.runtimeArgs.map(String) : [],
        ]),
      ),
      runtimePaths: Object.fromEntries(
        Object.entries((info.Runtimes ?? {}) as Record<string, { path?: unknown }>).map(([n, r]) => [n, String(r?.path ?? n)]),
      ),
      defaultRuntime: String(info.DefaultRuntime ?? 'runc'),
      cgroupVersion: String(info.CgroupVersion ?? '1'),
      cgroupDriver: String(info.CgroupDriver ?? 'cgroupfs'),
    };
  }

  async imageExists(ref: string): Promise<boolean> {
    try {
      await this.#docker.getImage(ref).inspect();
      return true;
    } catch (err) {
      if (status(err) === 404) return false;
      throw mapError('image inspect', err);
    }
  }

  async createVolume(name: string, labels: Record<string, string>): Promise<void> {
    // Creating an existing volume with the same name is a no-op in Docker: what a retry needs.
    await this.#call('volume create', () =>
      this.#docker.createVolume({ Name: name, Labels: labels } as Docker.VolumeCreateOptions),
    );
  }

  async removeVolume(name: string): Promise<void> {
    try {
      await this.#docker.getVolume(name).remove();
    } catch (err) {
      if (status(err) === 404) return;
      throw mapError('volume remove', err);
    }
  }

  async listVolumes(labelFilter: string): Promise<VolumeSummary[]> {
    const res = await this.#call('volume list', () =>
      this.#docker.listVolumes({ filters: { label: [labelFilter] } }),
    );
    return (res.Volumes ?? []).map((v) => ({ name: v.Name, labels: v.Labels ?? {} }));
  }

  async createNetwork(spec: NetworkSpec): Promise<string> {
    try {
      const n = await this.#docker.createNetwork(toDockerNetworkBody(spec) as Docker.NetworkCreateOptions);
      return n.id;
    } catch (err) {
      if (status(err) === 409) throw new EngineConflictError(`network name ${spec.name} is in use`);
      // 403 "Pool overlaps with other one on this address space" (another network), or
      // "networks have overlapping IPv4" (a host route).
      if (status(err) === 403 && /overlap/i.test(String((err as ModemError).json?.message))) {
        throw new SubnetOverlapError(`subnet ${spec.subnet} overlaps`);
      }
      throw mapError('network create', err);
    }
  }

  async removeNetwork(nameOrId: string): Promise<void> {
    try {
      await this.#docker.getNetwork(nameOrId).remove();
    } catch (err) {
      if (status(err) === 404) return;
      throw mapError('network remove', err);
    }
  }

  async listNetworks(labelFilter?: string): Promise<NetworkSummary[]> {
    const res = (await this.#call('network list', () =>
      this.#docker.listNetworks(labelFilter ? { filters: { label: [labelFilter] } } : {}),
    )) as Docker.NetworkInspectInfo[];
    return res.map((n) => ({
      id: n.Id,
      name: n.Name,
      labels: n.Labels ?? {},
      subnets: (n.IPAM?.Config ?? []).map((c) => c.Subnet).filter((x): x is string => !!x),
    }));
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    const body = toDockerCreateBody(spec);
    try {
      const c = await this.#slow.createContainer({ ...body } as Docker.ContainerCreateOptions);
      return c.id;
    } catch (err) {
      if (status(err) === 409) throw new EngineConflictError(`container name ${spec.name} is in use`);
      if (status(err) === 404) throw new ImageMissingError(spec.image);
      throw mapError('container create', err);
    }
  }

  async startContainer(id: string): Promise<void> {
    try {
      await this.#slow.getContainer(id).start();
    } catch (err) {
      if (status(err) === 304) return;
      throw mapError('container start', err);
    }
  }

  async stopContainer(id: string, timeoutS: number): Promise<void> {
    try {
      await this.#long.getContainer(id).stop({ t: timeoutS, abortSignal: AbortSignal.timeout(this.#timeoutMs + timeoutS * 1000) });
    } catch (err) {
      if (status(err) === 304 || status(err) === 404) return;
      throw mapError('container stop', err);
    }
  }

  async removeContainer(id: string): Promise<void> {
    try {
      await this.#slow.getContainer(id).remove({ force: true, v: false });
    } catch (err) {
      // 404: already gone. 409 "removal already in progress": Docker finishes it for us.
      if (status(err) === 404) return;
      if (status(err) === 409 && /already in progress/.test(String((err as ModemError).json?.message))) return;
      throw mapError('container remove', err);
    }
  }

  async inspectContainer(id: string): Promise<ContainerStatus | undefined> {
    let c: Docker.ContainerInspectInfo;
    try {
      c = await this.#docker.getContainer(id).inspect();
    } catch (err) {
      if (status(err) === 404) return undefined;
      throw mapError('container inspect', err);
    }
    const s = c.State;
    const time = (t: string | undefined) => (t && !t.startsWith('0001-') ? t : null);
    return {
      id: c.Id,
      name: c.Name.replace(/^\//, ''),
      labels: c.Config.Labels ?? {},
      image: c.Config.Image,
      runtime: (c.HostConfig as { Runtime?: string }).Runtime ?? 'runc',
      status: s.Status,
      running: s.Running,
      exitCode: s.Status === 'created' ? null : s.ExitCode,
      oomKilled: s.OOMKilled,
      startedAt: time(s.StartedAt),
      finishedAt: time(s.FinishedAt),
      pid: s.Pid || null,
      error: s.Error || null,
    };
  }

  async containerStats(id: string): Promise<ContainerStats | undefined> {
    let s: Docker.ContainerStats;
    try {
      s = await this.#docker.getContainer(id).stats({ stream: false });
    } catch (err) {
      if (status(err) === 404) return undefined;
      throw mapError('container stats', err);
    }
    // A stopped container answers with zeroed fields and no read time.
    if (!s.read || s.read.startsWith('0001-')) return undefined;
    const mem = s.memory_stats ?? ({} as Docker.MemoryStats);
    const memStats = (mem.stats ?? {}) as unknown as Record<string, number | undefined>;
    // cgroup v1 names it total_inactive_file, v2 inactive_file.
    const inactiveFile = memStats.total_inactive_file ?? memStats.inactive_file ?? 0;
    const nets = Object.values(s.networks ?? {});
    const pids = s.pids_stats as { current?: number; limit?: number } | undefined;
    const limit = mem.limit;
    return {
      readAt: s.read,
      cpuUsageNs: s.cpu_stats?.cpu_usage?.total_usage ?? 0,
      cpuThrottledNs: s.cpu_stats?.throttling_data?.throttled_time ?? null,
      memoryUsageBytes: mem.usage ?? 0,
      memoryWorkingSetBytes: Math.max(0, (mem.usage ?? 0) - inactiveFile),
      memoryLimitBytes: limit && limit < 2 ** 62 ? limit : null,
      pids: pids?.current ?? null,
      pidsLimit: pids?.limit && pids.limit < 2 ** 62 ? pids.limit : null,
      networkRxBytes: nets.length ? nets.reduce((a, n) => a + n.rx_bytes, 0) : null,
      networkTxBytes: nets.length ? nets.reduce((a, n) => a + n.tx_bytes, 0) : null,
    };
  }

  async listContainers(labelFilter: string): Promise<ContainerSummary[]> {
    const list = await this.#call('container list', () =>
      this.#docker.listContainers({ all: true, filters: { label: [labelFilter] } }),
    );
    return list.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? '').replace(/^\//, ''),
      labels: c.Labels ?? {},
      status: c.State,
    }));
  }

  async subscribeEvents(
    labelFilter: string,
    since: Date | undefined,
    onEvent: (e: EngineEvent) => void,
    onError: (err: Error) => void,
  ): Promise<EventSubscription> {
    const opts: Record<string, unknown> = {
      filters: { type: ['container'], label: [labelFilter] },
    };
    if (since) opts.since = Math.floor(since.getTime() / 1000);
    // The stream lives until close() or an error; the engine's liveness is watched elsewhere.
    // Opening it has a deadline though: a hung engine must not hold the subscribe forever.
    const opening = new AbortController();
    opts.abortSignal = opening.signal;
    const deadline = setTimeout(() => opening.abort(), this.#timeoutMs);
    let stream: NodeJS.ReadableStream & { destroy(): void };
    try {
      stream = (await this.#call('events', () => this.#long.getEvents(opts as Docker.GetEventsOptions))) as typeof stream;
    } finally {
      clearTimeout(deadline);
    }
    let buf = '';
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      onError(err);
    };
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        try {
          const ev = JSON.parse(line) as {
            id?: string;
            Action?: string;
            timeNano?: number;
            Actor?: { ID?: string; Attributes?: Record<string, string> };
          };
          const attrs = ev.Actor?.Attributes ?? {};
          const exit = attrs.exitCode;
          const { exitCode: _e, name: _n, image: _i, ...labels } = attrs;
          onEvent({
            id: ev.Actor?.ID ?? ev.id ?? '',
            action: (ev.Action ?? '').split(':')[0] ?? '',
            labels,
            timeNano: BigInt(ev.timeNano ?? 0),
            exitCode: exit === undefined ? null : Number(exit),
          });
        } catch {
          // A malformed event line is skipped; the periodic relist repairs anything it carried.
        }
      }
    });
    stream.on('error', (err: Error) => fail(mapError('events', err)));
    stream.on('end', () => fail(new EngineUnavailableError('engine event stream ended')));
    stream.on('close', () => fail(new EngineUnavailableError('engine event stream closed')));
    return {
      close() {
        failed = true;
        stream.destroy();
      },
    };
  }

  async openLogs(id: string, o: LogOptions): Promise<LogStream | undefined> {
    let tty: boolean;
    try {
      tty = !!(await this.#docker.getContainer(id).inspect()).Config.Tty;
    } catch (err) {
      if (status(err) === 404) return undefined;
      throw mapError('logs', err);
    }
    const query: Record<string, string> = {
      follow: o.follow ? '1' : '0',
      stdout: o.stdout ? '1' : '0',
      stderr: o.stderr ? '1' : '0',
      timestamps: o.timestamps ? '1' : '0',
      tail: String(o.tail),
    };
    if (o.since) query.since = o.since;
    if (o.until) query.until = o.until;
    // The deadline covers the engine's answer only: a follow stream then lives until its
    // owner closes it (an AbortSignal.timeout would cut it).
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.#timeoutMs);
    try {
      const res = await new Promise<NodeJS.ReadableStream & { destroy(): void }>((resolve, reject) => {
        this.#long.modem.dial(
          {
            path: `/containers/${encodeURIComponent(id)}/logs?`,
            method: 'GET',
            isStream: true,
            abortSignal: abort.signal,
            statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
            options: query,
          },
          (err: unknown, data: unknown) => (err ? reject(err) : resolve(data as NodeJS.ReadableStream & { destroy(): void })),
        );
      });
      return { tty, stream: res, close: () => res.destroy() };
    } catch (err) {
      if (status(err) === 404) return undefined;
      throw mapError('logs', err);
    } finally {
      clearTimeout(timer);
    }
  }

  async exec(id: string, o: ExecOptions): Promise<ExecSession | undefined> {
    return startExec({ unary: this.#docker, long: this.#long, timeoutMs: this.#timeoutMs }, id, o);
  }
}

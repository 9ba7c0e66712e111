import Docker from 'dockerode';
import { toDockerCreateBody } from './docker-spec.js';
import { EngineConflictError, EngineError, EngineUnavailableError, ImageMissingError } from './errors.js';
import type {
  ContainerRuntime,
  ContainerSpec,
  ContainerStatus,
  ContainerSummary,
  EngineEvent,
  EngineInfo,
  EventSubscription,
  VolumeSummary,
} from './types.js';

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

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'EACCES', 'ABORT_ERR']);

interface ModemError {
  statusCode?: number;
  code?: string;
  name?: string;
  message?: string;
  json?: { message?: string } | null;
}

/** Maps a docker-modem error to our typed errors; raw engine errors never leave this file. */
function mapError(op: string, err: unknown): Error {
  const e = err as ModemError;
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError' || (e?.code && UNREACHABLE.has(e.code))) {
    return new EngineUnavailableError(`container engine unreachable during ${op}: ${e.code ?? e.name}`, err);
  }
  if (e?.statusCode === undefined) {
    return new EngineUnavailableError(`container engine failed during ${op}: ${e?.message ?? String(err)}`, err);
  }
  const msg = e.json?.message ?? e.message ?? 'unknown engine error';
  return new EngineError(`${op}: HTTP ${e.statusCode}: ${msg}`, e.statusCode, err);
}

function status(err: unknown): number | undefined {
  return (err as ModemError)?.statusCode;
}

export class DockerRuntime implements ContainerRuntime {
  /** Unary calls: the modem's socket timeout is their deadline. */
  readonly #docker: Docker;
  /** Long calls (stop with a grace period, event and log streams): no socket timeout. */
  readonly #long: Docker;
  readonly #timeoutMs: number;

  constructor(opts: DockerRuntimeOptions) {
    this.#docker = new Docker({ ...modemOptions(opts.dockerHost), timeout: opts.timeoutMs });
    this.#long = new Docker(modemOptions(opts.dockerHost));
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

  async createContainer(spec: ContainerSpec): Promise<string> {
    const body = toDockerCreateBody(spec);
    try {
      const c = await this.#docker.createContainer({ ...body } as Docker.ContainerCreateOptions);
      return c.id;
    } catch (err) {
      if (status(err) === 409) throw new EngineConflictError(`container name ${spec.name} is in use`);
      if (status(err) === 404) throw new ImageMissingError(spec.image);
      throw mapError('container create', err);
    }
  }

  async startContainer(id: string): Promise<void> {
    try {
      await this.#docker.getContainer(id).start();
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
      await this.#docker.getContainer(id).remove({ force: true, v: false });
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
    const stream = (await this.#call('events', () =>
      this.#long.getEvents(opts as Docker.GetEventsOptions),
    )) as NodeJS.ReadableStream & { destroy(): void };
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
}

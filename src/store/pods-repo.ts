import type { Db } from './db.js';
import { guardStore } from './db.js';
import type { Pod, PodState, PortMapping } from '../pods/types.js';
import { podErrorCode } from '../errors.js';

interface Row {
  id: string;
  name: string;
  template: string;
  image: string;
  command: string | null;
  state: string;
  runtime: string;
  sandboxed: number;
  resources: string;
  ports: string;
  env: string;
  labels: string;
  container_name: string;
  volume_name: string;
  container_id: string | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  oom_killed: number;
  error_code: string | null;
  error_message: string | null;
}

function toPod(r: Row): Pod {
  return {
    id: r.id,
    name: r.name,
    template: r.template as Pod['template'],
    image: r.image,
    command: r.command === null ? null : (JSON.parse(r.command) as string[]),
    state: r.state as PodState,
    runtime: r.runtime,
    sandboxed: r.sandboxed === 1,
    resources: JSON.parse(r.resources) as Pod['resources'],
    ports: JSON.parse(r.ports) as PortMapping[],
    env: JSON.parse(r.env) as Record<string, string>,
    labels: JSON.parse(r.labels) as Record<string, string>,
    containerName: r.container_name,
    volumeName: r.volume_name,
    containerId: r.container_id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    exitCode: r.exit_code,
    oomKilled: r.oom_killed === 1,
    error: r.error_code ? { code: podErrorCode(r.error_code), message: r.error_message ?? '' } : null,
  };
}

export type PodPatch = Partial<
  Pick<Pod, 'state' | 'containerId' | 'startedAt' | 'finishedAt' | 'exitCode' | 'oomKilled' | 'error'>
>;

export class NameTakenError extends Error {
  override name = 'NameTakenError';
}
export class PortsExhaustedError extends Error {
  override name = 'PortsExhaustedError';
}

export interface PortRequest {
  name: string | null;
  containerPort: number;
}

/**
 * The pods table, with every row also held in memory (write-through).
 *
 * Reads (GET /v1/pods, /v1/pods/{id}, the reconciler, the watcher) are served from the map:
 * no SQLite call and no JSON.parse per request. Writes go to SQLite first; the cached pod is
 * replaced by the row read back after the write committed, so memory never holds what the
 * file does not. This is only true while this connection is the file's one writer, which
 * openDb's exclusive lock makes so (store/db.ts).
 *
 * Cached pods are frozen: a caller that wants a different pod writes it through update().
 * Frozen pods are also what lets views cache their serialized JSON by identity (api/views.ts).
 */
export class PodsRepo {
  readonly #db: Db;
  readonly #stmts;
  readonly #byId = new Map<string, Pod>();
  readonly #idByName = new Map<string, string>();
  /** All pods in list order (created_at, id); rebuilt on the first read after a write. */
  #ordered: readonly Pod[] | null = null;
  #version = 0;

  constructor(db: Db) {
    this.#db = db;
    this.#stmts = {
      get: db.prepare<[string], Row>('SELECT * FROM pods WHERE id = ?'),
      byName: db.prepare<[string], Row>('SELECT * FROM pods WHERE name = ?'),
      all: db.prepare<[], Row>('SELECT * FROM pods ORDER BY created_at, id'),
      usedPorts: db.prepare<[string], { host_port: number }>('SELECT host_port FROM port_allocations WHERE host_ip = ? ORDER BY host_port'),
      insertPort: db.prepare('INSERT INTO port_allocations (host_ip, host_port, pod_id) VALUES (?, ?, ?)'),
      del: db.prepare('DELETE FROM pods WHERE id = ?'),
      insert: db.prepare(`INSERT INTO pods (id, name, template, image, command, state, runtime, sandboxed, resources, ports, env,
        labels, container_name, volume_name, container_id, created_at, updated_at, started_at, finished_at, exit_code, oom_killed,
        error_code, error_message) VALUES (@id, @name, @template, @image, @command, @state, @runtime, @sandboxed, @resources, @ports,
        @env, @labels, @container_name, @volume_name, @container_id, @created_at, @updated_at, @started_at, @finished_at, @exit_code,
        @oom_killed, @error_code, @error_message)`),
    };
    for (const r of this.#stmts.all.all()) this.#remember(toPod(r));
  }

  get(id: string): Pod | undefined {
    return this.#byId.get(id);
  }

  getByName(name: string): Pod | undefined {
    const id = this.#idByName.get(name);
    return id === undefined ? undefined : this.#byId.get(id);
  }

  /** Every pod, ordered by creation time then id (a stable order for paging). */
  list(): readonly Pod[] {
    this.#ordered ??= Object.freeze([...this.#byId.values()].sort(byCreation));
    return this.#ordered;
  }

  get size(): number {
    return this.#byId.size;
  }

  /** Changes with every committed write: what was derived from an equal version is still true. */
  get version(): number {
    return this.#version;
  }

  /**
   * Inserts the pod and allocates one free host port per requested port, in one transaction:
   * the intent is durable before the engine is touched, and two pods never share a host port.
   * `isFree` lets the caller skip ports something outside pinacled already holds.
   */
  insertWithPorts(
    pod: Omit<Pod, 'ports'>,
    requests: PortRequest[],
    hostIp: string,
    range: { low: number; high: number },
    isFree: (port: number) => boolean = () => true,
  ): Pod {
    const stored = guardStore(() =>
      this.#db.transaction(() => {
        if (this.#stmts.byName.get(pod.name)) throw new NameTakenError(pod.name);
        const used = new Set(this.#stmts.usedPorts.all(hostIp).map((r) => r.host_port));
        const ports: PortMapping[] = [];
        let candidate = range.low;
        for (const req of requests) {
          while (candidate <= range.high && (used.has(candidate) || !isFree(candidate))) candidate++;
          if (candidate > range.high) throw new PortsExhaustedError(`no free host port in ${range.low}-${range.high}`);
          ports.push({ name: req.name, containerPort: req.containerPort, hostPort: candidate, hostIp });
          used.add(candidate);
        }
        const full: Pod = { ...pod, ports };
        try {
          this.#stmts.insert.run(toRow(full));
        } catch (err) {
          if (String((err as { code?: string }).code).startsWith('SQLITE_CONSTRAINT')) throw new NameTakenError(pod.name);
          throw err;
        }
        for (const p of ports) this.#stmts.insertPort.run(hostIp, p.hostPort, pod.id);
        return this.#stmts.get.get(pod.id)!;
      })(),
    );
    // Committed: only now does memory learn of it.
    return this.#remember(toPod(stored));
  }

  update(id: string, patch: PodPatch, now: string): Pod | undefined {
    const cols: string[] = [];
    const vals: Record<string, unknown> = { id, updated_at: now };
    const map: Record<string, [string, (v: never) => unknown]> = {
      state: ['state', (v) => v],
      containerId: ['container_id', (v) => v],
      startedAt: ['started_at', (v) => v],
      finishedAt: ['finished_at', (v) => v],
      exitCode: ['exit_code', (v) => v],
      oomKilled: ['oom_killed', (v: boolean) => (v ? 1 : 0)],
    };
    for (const [k, v] of Object.entries(patch)) {
      if (k === 'error') continue;
      const m = map[k];
      if (!m) continue;
      cols.push(`${m[0]} = @${m[0]}`);
      vals[m[0]] = m[1](v as never);
    }
    if ('error' in patch) {
      cols.push('error_code = @error_code', 'error_message = @error_message');
      vals.error_code = patch.error?.code ?? null;
      vals.error_message = patch.error?.message ?? null;
    }
    cols.push('updated_at = @updated_at');
    // One transaction: memory gets the row the update committed, or nothing changes at all.
    const row = guardStore(() =>
      this.#db.transaction(() => {
        this.#db.prepare(`UPDATE pods SET ${cols.join(', ')} WHERE id = @id`).run(vals);
        return this.#stmts.get.get(id);
      })(),
    );
    if (!row) {
      this.#forget(id);
      return undefined;
    }
    return this.#remember(toPod(row));
  }

  /** Deletes the pod row; its port allocations go with it (ON DELETE CASCADE). */
  delete(id: string): void {
    guardStore(() => this.#stmts.del.run(id));
    this.#forget(id);
  }

  allocatedPortCount(hostIp: string): number {
    return this.#stmts.usedPorts.all(hostIp).length;
  }

  #remember(pod: Pod): Pod {
    const frozen = deepFreeze(pod);
    const old = this.#byId.get(pod.id);
    if (old && old.name !== pod.name) this.#idByName.delete(old.name);
    this.#byId.set(pod.id, frozen);
    this.#idByName.set(pod.name, pod.id);
    this.#ordered = null;
    this.#version++;
    return frozen;
  }

  #forget(id: string): void {
    const old = this.#byId.get(id);
    if (!old) return;
    this.#byId.delete(id);
    this.#idByName.delete(old.name);
    this.#ordered = null;
    this.#version++;
  }
}

/** The list order: creation time, then id (ISO timestamps compare as strings). */
export function byCreation(a: Pick<Pod, 'createdAt' | 'id'>, b: Pick<Pod, 'createdAt' | 'id'>): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

function toRow(p: Pod): Row {
  return {
    id: p.id,
    name: p.name,
    template: p.template,
    image: p.image,
    command: p.command === null ? null : JSON.stringify(p.command),
    state: p.state,
    runtime: p.runtime,
    sandboxed: p.sandboxed ? 1 : 0,
    resources: JSON.stringify(p.resources),
    ports: JSON.stringify(p.ports),
    env: JSON.stringify(p.env),
    labels: JSON.stringify(p.labels),
    container_name: p.containerName,
    volume_name: p.volumeName,
    container_id: p.containerId,
    created_at: p.createdAt,
    updated_at: p.updatedAt,
    started_at: p.startedAt,
    finished_at: p.finishedAt,
    exit_code: p.exitCode,
    oom_killed: p.oomKilled ? 1 : 0,
    error_code: p.error?.code ?? null,
    error_message: p.error?.message ?? null,
  };
}

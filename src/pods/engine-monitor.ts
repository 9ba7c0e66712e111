import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { ContainerRuntime, EngineInfo } from '../runtime/container-runtime.js';

export interface EngineHealth {
  reachable: boolean;
  info: EngineInfo | null;
  error: string | null;
  checkedAt: string | null;
}

/**
 * How long one health check waits for the engine. Shorter than the engine call deadline
 * (PINACLED_ENGINE_TIMEOUT_MS, 15 s by default): a hung engine (socket accepts, never answers)
 * must read as down within a few seconds, and requests wait on this check when the engine is
 * known to be down. `docker info` answers in ~100 ms even on a busy host.
 */
export const PING_TIMEOUT_MS = 2000;

/**
 * Polls the engine so readiness is known without a request paying for it. Emits `up` when the
 * engine becomes reachable again (the reconciler and event watcher hook into it) and `down`.
 */
export class EngineMonitor extends EventEmitter {
  readonly #runtime: ContainerRuntime;
  readonly #intervalMs: number;
  readonly #pingTimeoutMs: number;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #health: EngineHealth = { reachable: false, info: null, error: 'not checked yet', checkedAt: null };
  #checking: Promise<EngineHealth> | undefined;

  constructor(opts: { runtime: ContainerRuntime; intervalMs: number; log: Logger; pingTimeoutMs?: number }) {
    super();
    this.#runtime = opts.runtime;
    this.#intervalMs = opts.intervalMs;
    this.#pingTimeoutMs = opts.pingTimeoutMs ?? PING_TIMEOUT_MS;
    this.#log = opts.log;
  }

  get health(): EngineHealth {
    return this.#health;
  }

  /** One check now (concurrent callers share it); settles within the ping deadline. */
  check(): Promise<EngineHealth> {
    this.#checking ??= this.#check().finally(() => (this.#checking = undefined));
    return this.#checking;
  }

  async #check(): Promise<EngineHealth> {
    try {
      const info = await withDeadline(this.#runtime.info(), this.#pingTimeoutMs);
      this.#set({ reachable: true, info, error: null, checkedAt: new Date().toISOString() }, undefined);
    } catch (err) {
      this.#set({ reachable: false, info: this.#health.info, error: publicReason(err), checkedAt: new Date().toISOString() }, err);
    }
    return this.#health;
  }

  /** When the engine last came back after this process saw it down (undefined: never down). */
  #recoveredAt: number | undefined;
  #sawDown = false;

  /**
   * True while the engine is down or came back less than `windowMs` ago. A dockerd that has just
   * restarted answers some calls with 500s while it restores its networks and containerd
   * (seen under load in the engine-restart test); such answers are the engine still starting
   * (503, retry), not a rejected operation (502).
   */
  settling(windowMs = 30_000): boolean {
    if (!this.#health.reachable) return true;
    return this.#recoveredAt !== undefined && Date.now() - this.#recoveredAt < windowMs;
  }

  #set(next: EngineHealth, err: unknown): void {
    const was = this.#health.reachable;
    this.#health = next;
    if (was && !next.reachable) this.#sawDown = true;
    if (!was && next.reachable && this.#sawDown) this.#recoveredAt = Date.now();
    // After stop() nobody may react any more (the store may be closed).
    if (this.#stopped || was === next.reachable) return;
    if (next.reachable) {
      this.#log.info({ engine: next.info?.version, runtimes: next.info?.runtimes }, 'container engine reachable');
      this.emit('up', next.info);
    } else {
      this.#log.warn({ err: (err as { detailForLogs?: string }).detailForLogs ?? (err as Error).message }, 'container engine unreachable');
      this.emit('down');
    }
  }

  /** Marks the engine down at once when a request or stream saw it fail, without waiting for the poll. */
  reportFailure(err: Error): void {
    if (this.#health.reachable) void this.check();
    else this.#health = { ...this.#health, error: publicReason(err) };
  }

  async start(): Promise<void> {
    this.#stopped = false;
    await this.check();
    this.#timer = setInterval(() => void this.check(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

class PingTimeoutError extends Error {
  readonly code = 'PINACLED_ERR_ENGINE_UNAVAILABLE';
  readonly detailForLogs: string;
  constructor(ms: number) {
    super(`no answer from the engine within ${ms} ms`);
    this.detailForLogs = this.message;
  }
}

/**
 * Settles within `ms`. The call itself keeps its own deadline (the runtime's socket timeout)
 * and its late result is dropped.
 */
function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PingTimeoutError(ms)), ms);
  });
  p.catch(() => undefined);
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** A reason fit for /readyz (no auth): the error code's class, not the engine's own text. */
function publicReason(err: unknown): string {
  if (err instanceof PingTimeoutError) return 'the engine socket did not answer in time';
  const code = (err as { code?: string }).code;
  return code === 'PINACLED_ERR_ENGINE_UNAVAILABLE' ? 'no answer from the engine socket' : 'the engine answered with an error';
}

import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { ContainerRuntime, EngineInfo } from '../runtime/types.js';

export interface EngineHealth {
  reachable: boolean;
  info: EngineInfo | null;
  error: string | null;
  checkedAt: string | null;
}

/**
 * Polls the engine so readiness is known without a request paying for it. Emits `up` when the
 * engine becomes reachable again (the reconciler and event watcher hook into it) and `down`.
 */
export class EngineMonitor extends EventEmitter {
  readonly #runtime: ContainerRuntime;
  readonly #intervalMs: number;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #health: EngineHealth = { reachable: false, info: null, error: 'not checked yet', checkedAt: null };
  #checking: Promise<EngineHealth> | undefined;

  constructor(opts: { runtime: ContainerRuntime; intervalMs: number; log: Logger }) {
    super();
    this.#runtime = opts.runtime;
    this.#intervalMs = opts.intervalMs;
    this.#log = opts.log;
  }

  get health(): EngineHealth {
    return this.#health;
  }

  /** One check now (concurrent callers share it). */
  check(): Promise<EngineHealth> {
    this.#checking ??= this.#check().finally(() => (this.#checking = undefined));
    return this.#checking;
  }

  async #check(): Promise<EngineHealth> {
    const was = this.#health.reachable;
    try {
      const info = await this.#runtime.info();
      this.#health = { reachable: true, info, error: null, checkedAt: new Date().toISOString() };
      if (!was) {
        this.#log.info({ engine: info.version, runtimes: info.runtimes }, 'container engine reachable');
        this.emit('up', info);
      }
    } catch (err) {
      this.#health = { reachable: false, info: this.#health.info, error: publicReason(err), checkedAt: new Date().toISOString() };
      if (was) {
        this.#log.warn({ err: (err as { detailForLogs?: string }).detailForLogs ?? (err as Error).message }, 'container engine unreachable');
        this.emit('down');
      }
    }
    return this.#health;
  }

  /** Marks the engine down at once when a request saw it fail, without waiting for the poll. */
  reportFailure(err: Error): void {
    if (this.#health.reachable) void this.check();
    else this.#health = { ...this.#health, error: publicReason(err) };
  }

  async start(): Promise<void> {
    await this.check();
    this.#timer = setInterval(() => void this.check(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** A reason fit for /readyz (no auth): the error code's class, not the engine's own text. */
function publicReason(err: unknown): string {
  const code = (err as { code?: string }).code;
  return code === 'PINACLED_ERR_ENGINE_UNAVAILABLE' ? 'no answer from the engine socket' : 'the engine answered with an error';
}

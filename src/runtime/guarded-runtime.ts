import type { ContainerRuntime } from './container-runtime.js';
import { EngineError, EngineUnavailableError } from './errors.js';
import { RuntimeDecorator } from './runtime-decorator.js';

/** What the guard needs from the engine monitor (pods/engine-monitor.ts). */
export interface EngineGate {
  readonly health: { reachable: boolean; error: string | null };
  /** One health check now, within the monitor's ping deadline. */
  check(): Promise<{ reachable: boolean; error: string | null }>;
  /** A call saw the engine unreachable: mark it down now, without waiting for the poll. */
  reportFailure(err: Error): void;
  /** True while the engine is down or came back moments ago (see EngineMonitor.settling). */
  settling(): boolean;
}

/**
 * Fails fast (503) while the engine is known to be down: re-checks within the ping deadline
 * instead of letting a call wait out its own deadline on a hung engine. The one gate every
 * engine call goes through, and the one place that also answers "no" before an operation
 * writes a transitional state (PodService's stop and delete).
 */
export async function requireEngine(gate: EngineGate): Promise<void> {
  if (gate.health.reachable) return;
  const h = await gate.check();
  if (!h.reachable) throw new EngineUnavailableError(`container engine unreachable: ${h.error ?? 'unknown'}`);
}

/**
 * The runtime as the rest of the daemon uses it (routes, service, reconciler, watcher, logs,
 * collector); the monitor itself keeps the unguarded one. Each call passes the gate; a call
 * that fails as unreachable is reported to the monitor once, here; and a 5xx while the engine
 * is settling after an outage (a dockerd that just restarted answers some calls with 500s
 * while it restores its networks and containerd) is the engine still starting, a 503 to
 * retry, not a rejected operation (502).
 */
export class GuardedRuntime extends RuntimeDecorator {
  readonly #gate: EngineGate;

  constructor(inner: ContainerRuntime, gate: EngineGate) {
    super(inner);
    this.#gate = gate;
  }

  protected override async call<T>(_operation: string, fn: () => Promise<T>): Promise<T> {
    await requireEngine(this.#gate);
    try {
      return await fn();
    } catch (err) {
      if (err instanceof EngineError && (err.engineStatus ?? 0) >= 500 && this.#gate.settling()) {
        throw new EngineUnavailableError(`engine answered ${err.engineStatus} while it was settling after an outage: ${err.detailForLogs}`, err);
      }
      if (err instanceof EngineUnavailableError) this.#gate.reportFailure(err);
      throw err;
    }
  }
}

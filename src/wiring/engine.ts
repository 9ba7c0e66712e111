import type { Logger } from 'pino';
import type { Metrics } from '../metrics/registry.js';
import { EngineMonitor } from '../pods/engine-monitor.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { GuardedRuntime } from '../runtime/guarded-runtime.js';
import { InstrumentedRuntime } from '../runtime/instrumented-runtime.js';

/** The engine as the rest of the daemon sees it: the monitor, and the runtime every part calls. */
export interface Engine {
  readonly monitor: EngineMonitor;
  /** Counted (pinacled_engine_operations) and gated: fails fast with 503 while the engine is known down. */
  readonly runtime: ContainerRuntime;
}

export function guardEngine(raw: ContainerRuntime, metrics: Metrics, log: Logger): Engine {
  // Every engine call from here on is counted by operation (and its failures).
  const counted = new InstrumentedRuntime(raw, metrics);
  // The monitor probes the counted runtime itself; everything else goes through the guard,
  // which reports an unreachable engine to the monitor (once, there).
  const monitor = new EngineMonitor({ runtime: counted, intervalMs: 2000, log });
  return { monitor, runtime: new GuardedRuntime(counted, monitor) };
}

import type { ContainerRuntime } from './container-runtime.js';
import { EngineConflictError, EngineError, EngineUnavailableError, ImageMissingError } from './errors.js';
import { RuntimeDecorator } from './runtime-decorator.js';

/** The counters it feeds (prom-client Counters in metrics/registry.ts). */
export interface EngineCallCounters {
  engineRequests: { inc(labels: { operation: string }): void };
  engineErrors: { inc(labels: { operation: string; reason: string }): void };
}

export function engineErrorReason(err: unknown): string {
  if (err instanceof EngineUnavailableError) return 'unavailable';
  if (err instanceof EngineConflictError) return 'conflict';
  if (err instanceof ImageMissingError) return 'not_found';
  if (err instanceof EngineError) return 'rejected';
  return 'other';
}

/** Counts every call through the runtime seam, and its failures, by method name (a bounded set). */
export class InstrumentedRuntime extends RuntimeDecorator {
  readonly #m: EngineCallCounters;

  constructor(inner: ContainerRuntime, counters: EngineCallCounters) {
    super(inner);
    this.#m = counters;
  }

  protected override async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    this.#m.engineRequests.inc({ operation });
    try {
      return await fn();
    } catch (err) {
      this.#m.engineErrors.inc({ operation, reason: engineErrorReason(err) });
      throw err;
    }
  }
}

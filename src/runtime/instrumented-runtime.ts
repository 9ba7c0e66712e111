import type { ContainerRuntime } from './container-runtime.js';
import { EngineConflictError, EngineError, EngineUnavailableError, ImageMissingError } from './errors.js';
import { RuntimeDecorator } from './runtime-decorator.js';

/** The counters it feeds (prom-client Counters in metrics/registry.ts). */
export interface EngineCallCounters {
  engineRequests: { inc(labels: { operation: string }): void };
  engineErrors: { inc(labels: { operation: string; reason: string }): void };
}

/** Every operation of the runtime seam: the label values of the engine call counters. */
export const ENGINE_OPERATIONS = [
  'info', 'imageExists', 'createVolume', 'removeVolume', 'listVolumes', 'createNetwork', 'removeNetwork', 'listNetworks',
  'createContainer', 'startContainer', 'stopContainer', 'removeContainer', 'inspectContainer', 'containerStats',
  'listContainers', 'subscribeEvents', 'openLogs', 'exec',
] as const satisfies readonly (keyof ContainerRuntime)[];
// A seam method missing from the list fails to compile here (its counters would start absent).
const everyOperation: Exclude<keyof ContainerRuntime, (typeof ENGINE_OPERATIONS)[number]> extends never ? true : never = true;
void everyOperation;

export const ENGINE_ERROR_REASONS = ['unavailable', 'rejected', 'conflict', 'not_found', 'other'] as const;

export function engineErrorReason(err: unknown): (typeof ENGINE_ERROR_REASONS)[number] {
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

import { AsyncLocalStorage } from 'node:async_hooks';
import type { Counter, Histogram } from 'prom-client';
import { isPinacledError } from '../errors.js';
import type { PodService } from '../pods/service.js';
import { EngineConflictError, EngineError, EngineUnavailableError, ImageMissingError } from '../runtime/errors.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';

export function engineErrorReason(err: unknown): string {
  if (err instanceof EngineUnavailableError) return 'unavailable';
  if (err instanceof EngineConflictError) return 'conflict';
  if (err instanceof ImageMissingError) return 'not_found';
  if (err instanceof EngineError) return 'rejected';
  return 'other';
}

/**
 * Counts every call through the runtime seam, and its failures, by method name (a bounded set).
 * A Proxy, so methods other engineers add to ContainerRuntime are counted without an edit here;
 * methods run with the real object as `this` (DockerRuntime keeps its clients in #private fields).
 */
export function instrumentRuntime(
  runtime: ContainerRuntime,
  m: { engineRequests: Counter<'operation'>; engineErrors: Counter<'operation' | 'reason'> },
): ContainerRuntime {
  return new Proxy(runtime, {
    get(target, prop) {
      const v: unknown = Reflect.get(target, prop, target);
      if (typeof v !== 'function' || typeof prop !== 'string') return v;
      return (...args: unknown[]) => {
        m.engineRequests.inc({ operation: prop });
        const fail = (err: unknown) => {
          m.engineErrors.inc({ operation: prop, reason: engineErrorReason(err) });
          throw err;
        };
        let r: unknown;
        try {
          r = (v as (...a: unknown[]) => unknown).apply(target, args);
        } catch (err) {
          fail(err);
        }
        return r instanceof Promise ? r.catch(fail) : r;
      };
    },
  });
}

export const POD_OPERATIONS = ['create', 'start', 'stop', 'restart', 'delete'] as const;

/** success; rejected: the client's request could not be served (4xx); failed: 5xx or unknown. */
export function operationOutcome(err: unknown): 'rejected' | 'failed' {
  return isPinacledError(err) && err.status < 500 ? 'rejected' : 'failed';
}

/**
 * Times the service's API operations into `pod_operation_duration_seconds`. Replaces the
 * instance's methods with timed ones; an operation called from inside another (restart calls
 * start) is not counted twice.
 */
export function instrumentPodService(service: PodService, hist: Histogram<'operation' | 'outcome'>): void {
  const inside = new AsyncLocalStorage<true>();
  for (const op of POD_OPERATIONS) {
    const orig = service[op].bind(service) as (...a: unknown[]) => Promise<unknown>;
    const timed = async (...args: unknown[]): Promise<unknown> => {
      if (inside.getStore()) return orig(...args);
      const end = hist.startTimer({ operation: op });
      try {
        const r = await inside.run(true, () => orig(...args));
        end({ outcome: 'success' });
        return r;
      } catch (err) {
        end({ outcome: operationOutcome(err) });
        throw err;
      }
    };
    Object.defineProperty(service, op, { value: timed, configurable: true, writable: true });
  }
}

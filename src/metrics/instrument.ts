import type { Histogram } from 'prom-client';
import { isPinacledError } from '../errors.js';
import type { OperationTimer } from '../pods/service.js';

export const POD_OPERATIONS = ['create', 'start', 'stop', 'restart', 'delete'] as const;

/** success; rejected: the client's request could not be served (4xx); failed: 5xx or unknown. */
export function operationOutcome(err: unknown): 'rejected' | 'failed' {
  return isPinacledError(err) && err.status < 500 ? 'rejected' : 'failed';
}

/**
 * Times the service's API operations into `pod_operation_duration_seconds` (PodService's
 * `timeOperation` option).
 */
export function operationTimer(hist: Histogram<'operation' | 'outcome'>): OperationTimer {
  return async (op, fn) => {
    const end = hist.startTimer({ operation: op });
    try {
      const r = await fn();
      end({ outcome: 'success' });
      return r;
    } catch (err) {
      end({ outcome: operationOutcome(err) });
      throw err;
    }
  };
}

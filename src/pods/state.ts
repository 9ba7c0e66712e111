import type { PodState } from './types.js';

/**
 * Allowed transitions, in one table. Transitional states (creating, starting, stopping,
 * deleting) are only held while an operation owns the pod's lock, or after a crash until the
 * reconciler finishes or rolls them back.
 */
export const TRANSITIONS: Record<PodState, readonly PodState[]> = {
  creating: ['starting', 'failed', 'deleting'],
  starting: ['running', 'stopped', 'failed', 'deleting'],
  running: ['stopping', 'stopped', 'failed', 'deleting', 'starting'],
  stopping: ['stopped', 'failed', 'running', 'deleting'],
  stopped: ['starting', 'deleting', 'failed', 'running'],
  failed: ['starting', 'deleting', 'stopped', 'running'],
  deleting: ['failed'],
};

export const TRANSITIONAL: ReadonlySet<PodState> = new Set(['creating', 'starting', 'stopping', 'deleting']);

export function canTransition(from: PodState, to: PodState): boolean {
  return from === to || TRANSITIONS[from].includes(to);
}

import type { PodState } from './types.js';

/**
 * Allowed transitions, in one table. Transitional states (creating, starting, stopping,
 * deleting) are only held while an operation owns the pod's lock, or after a crash until the
 * reconciler finishes or rolls them back:
 * - creating: the row exists, the engine objects may or may not; the client has no 201 yet.
 *   A create keeps this state until the container ran (-> running, or -> stopped when the
 *   command exited at once), so a crash anywhere in it is rolled back as a whole.
 * - starting / stopping: settled from what the engine shows (running, stopped or failed).
 * - deleting: only ever finished (the row goes away), never undone; `failed` is kept for an
 *   operator who must take it out of the delete path by hand.
 * Stable states may also jump to what the engine reports (a container started or stopped
 * outside the API: `docker start`, a process exit, an OOM kill).
 */
export const TRANSITIONS: Record<PodState, readonly PodState[]> = {
  creating: ['running', 'stopped', 'failed', 'deleting'],
  starting: ['running', 'stopped', 'failed', 'deleting'],
  running: ['stopping', 'stopped', 'failed', 'deleting', 'starting'],
  stopping: ['stopped', 'failed', 'running', 'deleting'],
  stopped: ['starting', 'deleting', 'failed', 'running'],
  failed: ['starting', 'deleting', 'stopped', 'running'],
  deleting: ['failed'],
};

export const TRANSITIONAL: ReadonlySet<PodState> = new Set(['creating', 'starting', 'stopping', 'deleting']);

export function isTransitional(state: PodState): boolean {
  return TRANSITIONAL.has(state);
}

export function canTransition(from: PodState, to: PodState): boolean {
  return from === to || TRANSITIONS[from].includes(to);
}

import { byCreation } from '../store/pods-repo.js';
import type { Pod } from './types.js';

/** GET /v1/pods filters: all must match. */
export interface ListFilter {
  state?: Pod['state'] | undefined;
  labels?: { key: string; value: string | undefined }[];
}

/** A position in the list order (GET /v1/pods paging). */
export type PodKey = Pick<Pod, 'createdAt' | 'id'>;

export function matches(p: Pod, filter: ListFilter): boolean {
  return (
    (!filter.state || p.state === filter.state) &&
    (filter.labels ?? []).every((l) => (l.value === undefined ? l.key in p.labels : p.labels[l.key] === l.value))
  );
}

/** Index of the first pod strictly after `key` in `sorted` (list order). */
export function firstAfter(sorted: readonly Pod[], key: PodKey): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (byCreation(sorted[mid]!, key) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

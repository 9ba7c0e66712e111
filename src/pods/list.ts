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

/**
 * One page of the pods of `sorted` (list order: creation time, then id) matching `filter`: at
 * most `limit` pods after the position `after` (a pod's sort key; that pod may be gone since).
 * `more` is true when matching pods follow the page. Finding the start is a binary search, so a
 * page costs the same at 10 pods and at 10,000.
 */
export function pageOf(sorted: readonly Pod[], filter: ListFilter, after: PodKey | undefined, limit: number): { items: Pod[]; more: boolean } {
  let i = after ? firstAfter(sorted, after) : 0;
  const items: Pod[] = [];
  for (; i < sorted.length; i++) {
    const p = sorted[i]!;
    if (!matches(p, filter)) continue;
    if (items.length === limit) return { items, more: true };
    items.push(p);
  }
  return { items, more: false };
}

import { PinacledError } from '../errors.js';

/**
 * One operation at a time per pod. A second conflicting operation gets 409 POD_BUSY at once
 * rather than queueing: callers (control planes) retry with their own policy.
 */
export class PodLocks {
  readonly #held = new Map<string, string>();

  async with<T>(podId: string, op: string, fn: () => Promise<T>): Promise<T> {
    const holder = this.#held.get(podId);
    if (holder) throw new PinacledError('PINACLED_ERR_POD_BUSY', `Pod ${podId} is busy with ${holder}`);
    this.#held.set(podId, op);
    try {
      return await fn();
    } finally {
      this.#held.delete(podId);
    }
  }

  isHeld(podId: string): boolean {
    return this.#held.has(podId);
  }

  get size(): number {
    return this.#held.size;
  }
}

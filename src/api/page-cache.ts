/**
 * Answers derived from the pod store, kept while the store does not change: GET /v1/pods
 * pages, assembled once per store version instead of once per request. Control planes poll
 * the list far more often than pods change; a 100-pod page is 67 KB, and building it per
 * request cost more than serving it (allocation and the garbage collections it drives, issue
 * 8). Any write moves the version and empties the cache, so an answer is never stale.
 * Bounded by bytes: when an entry would not fit, the cache starts over.
 */
export class VersionedBytesCache {
  readonly #maxBytes: number;
  #version = -1;
  #bytes = 0;
  readonly #entries = new Map<string, Buffer>();

  constructor(maxBytes = 8 * 1024 * 1024) {
    this.#maxBytes = maxBytes;
  }

  get(version: number, key: string, make: () => Buffer): Buffer {
    if (version !== this.#version) this.#reset(version);
    const hit = this.#entries.get(key);
    if (hit) return hit;
    const made = make();
    if (made.length > this.#maxBytes) return made;
    if (this.#bytes + made.length > this.#maxBytes) this.#reset(version);
    this.#entries.set(key, made);
    this.#bytes += made.length;
    return made;
  }

  get size(): number {
    return this.#entries.size;
  }

  #reset(version: number): void {
    this.#entries.clear();
    this.#bytes = 0;
    this.#version = version;
  }
}

/** Collects up to `max` bytes of a stream and counts the rest (which is read and dropped). */
export class BoundedOutput {
  readonly #max: number;
  readonly #chunks: Buffer[] = [];
  #kept = 0;
  dropped = 0;

  constructor(max: number) {
    this.#max = max;
  }

  push(b: Buffer): void {
    const room = this.#max - this.#kept;
    if (room >= b.length) {
      this.#chunks.push(b);
      this.#kept += b.length;
      return;
    }
    if (room > 0) this.#chunks.push(b.subarray(0, room));
    this.#kept = this.#max;
    this.dropped += b.length - Math.max(0, room);
  }

  get truncated(): boolean {
    return this.dropped > 0;
  }

  text(): string {
    return Buffer.concat(this.#chunks).toString('utf8');
  }
}

/**
 * Docker's multiplexed stream format (logs and attach of containers without a TTY): each frame
 * is an 8-byte header `[stream, 0, 0, 0, size (uint32 big-endian)]` followed by `size` bytes.
 * Stream 1 is stdout, 2 is stderr, 3 is an error the engine reports in-band (0, stdin, never
 * appears in logs). A chunk from the socket may end anywhere, inside a header or a payload;
 * payload bytes are handed on as they arrive, so no frame is ever buffered whole.
 */

export const STREAM_STDOUT = 1;
export const STREAM_STDERR = 2;
export const STREAM_SYSTEM_ERROR = 3;

export type FrameSink = (stream: number, data: Buffer, frameStart: boolean) => void;

export class DemuxError extends Error {
  override name = 'DemuxError';
}

export class FrameDemuxer {
  readonly #header = Buffer.alloc(8);
  #headerLen = 0;
  #remaining = 0;
  #stream = 0;
  #frameStart = false;

  /** Feeds one chunk; `sink` gets each payload piece. Throws DemuxError on a malformed header. */
  push(chunk: Buffer, sink: FrameSink): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.#remaining === 0) {
        if (this.#headerLen === 0 && chunk.length - off >= 8) {
          // The usual case, a whole header in this chunk: read in place.
          const stream = chunk[off]!;
          if (stream > 3 || chunk[off + 1] !== 0 || chunk[off + 2] !== 0 || chunk[off + 3] !== 0) {
            throw new DemuxError(`malformed frame header ${chunk.toString('hex', off, off + 8)}`);
          }
          this.#stream = stream;
          this.#remaining = chunk.readUInt32BE(off + 4);
          this.#frameStart = true;
          off += 8;
          continue;
        }
        const n = Math.min(8 - this.#headerLen, chunk.length - off);
        chunk.copy(this.#header, this.#headerLen, off, off + n);
        this.#headerLen += n;
        off += n;
        if (this.#headerLen < 8) return;
        this.#headerLen = 0;
        const stream = this.#header[0]!;
        if (stream > 3 || this.#header[1] !== 0 || this.#header[2] !== 0 || this.#header[3] !== 0) {
          throw new DemuxError(`malformed frame header ${this.#header.toString('hex')}`);
        }
        this.#stream = stream;
        this.#remaining = this.#header.readUInt32BE(4);
        this.#frameStart = true;
        continue;
      }
      const n = Math.min(this.#remaining, chunk.length - off);
      sink(this.#stream, chunk.subarray(off, off + n), this.#frameStart);
      this.#frameStart = false;
      this.#remaining -= n;
      off += n;
    }
  }

  /** True when the stream stopped inside a frame (the engine connection broke mid-frame). */
  get incomplete(): boolean {
    return this.#headerLen > 0 || this.#remaining > 0;
  }
}

/** Builds one frame (tests and the fake runtime speak the same format as the engine). */
export function encodeFrame(stream: number, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

/**
 * WebSocket frames as a server sends them (RFC 6455 section 5.2: FIN set, opcode 1 for text and
 * 2 for binary, no mask, no extension bits), several in one buffer. A burst of short messages (log lines) then
 * leaves in one socket write instead of one write per message: ws writes each frame on its
 * own, and the engine hands the daemon one log line per chunk, so batching "per engine chunk"
 * batches nothing.
 */

/** Header bytes of an unmasked frame carrying `n` payload bytes. */
export function frameHeaderBytes(n: number): number {
  return n < 126 ? 2 : n < 65536 ? 4 : 10;
}

/** Headers of the frames of under 126 payload bytes, one character per byte. */
const SHORT_HEADERS = Array.from({ length: 126 }, (_, n) => `\x81${String.fromCharCode(n)}`);

const TEXT = '\x81';
const BINARY = '\x82';

/** The header of a final, unmasked frame of `n` payload bytes (text unless `first` says binary), one character per byte. */
function headerChars(n: number, first = TEXT): string {
  if (n < 126) return first === TEXT ? SHORT_HEADERS[n]! : `${first}${String.fromCharCode(n)}`;
  if (n < 65536) return `${first}\x7e${String.fromCharCode(n >>> 8, n & 0xff)}`;
  const hi = Math.floor(n / 2 ** 32);
  const lo = n >>> 0;
  return `${first}\x7f${String.fromCharCode(hi >>> 24, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff)}`;
}

/** Smallest buffer a batch starts with. */
const MIN_CAPACITY = 1024;

/**
 * Messages framed, in order, into one buffer; take() hands the frames over for one
 * socket write. A message's payload is the UTF-8 bytes ws.send(text) would send:
 * - add(text): encoded straight into the buffer, after room for the header its character
 *   count implies; the rare message whose bytes need a longer header is moved up;
 * - addAscii(text), for a caller that knows every character is below 0x80 (its bytes are its
 *   characters): appended with its header to a string of one character per byte, which is
 *   copied into the buffer in one pass when another add() comes or at take(). A burst of log
 *   lines costs a string concatenation each instead of an encoder call each.
 */
export class FrameBatch {
  #buf = Buffer.allocUnsafe(MIN_CAPACITY);
  #off = 0;
  /** Frames added by addAscii() and not yet in #buf, one character per byte. */
  #ascii = '';
  #size = 0;

  /** Messages queued. */
  get size(): number {
    return this.#size;
  }

  /** Bytes the queued messages take on the wire, headers included. */
  get bytes(): number {
    return this.#off + this.#ascii.length;
  }

  add(text: string): void {
    this.#settle();
    // A UTF-16 code unit is at most 3 UTF-8 bytes (a surrogate pair, 2 units, is 4).
    const room = 10 + 3 * text.length;
    if (this.#buf.length - this.#off < room) this.#grow(room);
    const start = this.#off;
    // Bytes >= characters: the header for text.length is never longer than the one needed.
    const guess = frameHeaderBytes(text.length);
    const n = this.#buf.write(text, start + guess, 'utf8');
    const head = frameHeaderBytes(n);
    if (head !== guess) this.#buf.copyWithin(start + head, start + guess, start + guess + n);
    this.#buf.write(headerChars(n), start, 'latin1');
    this.#off = start + head + n;
    this.#size++;
  }

  /**
   * A binary message: `prefix` (one byte, e.g. exec's stream number) then `data`, copied
   * into the batch (the caller may reuse `data`).
   */
  addBinary(data: Buffer, prefix?: number): void {
    this.#settle();
    const n = data.length + (prefix === undefined ? 0 : 1);
    const head = frameHeaderBytes(n);
    if (this.#buf.length - this.#off < head + n) this.#grow(head + n);
    let at = this.#off + this.#buf.write(headerChars(n, BINARY), this.#off, 'latin1');
    if (prefix !== undefined) this.#buf[at++] = prefix;
    data.copy(this.#buf, at);
    this.#off = at + data.length;
    this.#size++;
  }

  /** `text` must be ASCII (every character below 0x80); the batch does not check. */
  addAscii(text: string): void {
    this.#ascii += headerChars(text.length) + text;
    this.#size++;
  }

  /** The queued messages as consecutive frames; the batch is empty afterwards. */
  take(): Buffer {
    this.#settle();
    const out = this.#buf.subarray(0, this.#off);
    // The next batch starts with room for one like this one (the written one now belongs to the socket).
    this.#buf = Buffer.allocUnsafe(Math.max(MIN_CAPACITY, Math.min(this.#buf.length, 2 * this.#off)));
    this.#off = 0;
    this.#size = 0;
    return out;
  }

  clear(): void {
    this.#off = 0;
    this.#ascii = '';
    this.#size = 0;
  }

  /** Copies the addAscii() frames into the buffer. */
  #settle(): void {
    const n = this.#ascii.length;
    if (n === 0) return;
    if (this.#buf.length - this.#off < n) this.#grow(n);
    this.#off += this.#buf.write(this.#ascii, this.#off, 'latin1');
    this.#ascii = '';
  }

  #grow(room: number): void {
    const next = Buffer.allocUnsafe(Math.max(2 * this.#buf.length, this.#off + room));
    this.#buf.copy(next, 0, 0, this.#off);
    this.#buf = next;
  }
}

import { FrameDemuxer, STREAM_STDERR, STREAM_STDOUT, STREAM_SYSTEM_ERROR } from './demux.js';
import type { LogLine, StdStream } from './types.js';

/**
 * Appended to a line cut at the line limit. Everything after the limit, up to the line's end,
 * is dropped: a process that prints a gigabyte without a newline costs the daemon at most one
 * limit's worth of memory per stream.
 */
export const TRUNCATION_MARKER = '…[truncated]';

/** A timestamp prefix longer than this is not one (the engine's are 20-30 bytes). */
const MAX_TS_BYTES = 40;

const SPACE = 0x20;
const NL = 0x0a;
const CR = 0x0d;

/**
 * Reassembles the lines of one stream. Works on bytes: a newline byte never occurs inside a
 * multi-byte UTF-8 sequence, so lines are split before decoding, and a character split across
 * chunks (or frames) is decoded whole. The engine prefixes every message with `TIMESTAMP `
 * (we always ask it to); lines longer than its 16 KiB buffer arrive as several messages, each
 * with its own prefix, and only the first one's timestamp is kept.
 */
class LineAssembler {
  readonly #stream: StdStream;
  readonly #max: number;
  /** TTY: no frames, so a timestamp follows every newline instead of every frame start. */
  readonly #raw: boolean;
  #parts: Buffer[] = [];
  #len = 0;
  #ts: string | null = null;
  #tsParts: Buffer[] = [];
  #tsLen = 0;
  #inTs = true;
  /** The current line was already cut and sent; bytes up to its newline are dropped. */
  #discarding = false;

  constructor(stream: StdStream, maxBytes: number, raw: boolean) {
    this.#stream = stream;
    this.#max = maxBytes;
    this.#raw = raw;
  }

  write(data: Buffer, messageStart: boolean, emit: (l: LogLine) => void): void {
    if (messageStart) {
      this.#inTs = true;
      this.#tsParts = [];
      this.#tsLen = 0;
    }
    let pos = 0;
    while (pos < data.length) {
      if (this.#inTs) {
        const sp = data.indexOf(SPACE, pos);
        if (sp >= 0 && this.#tsLen === 0 && sp - pos <= MAX_TS_BYTES) {
          // The usual case, the whole prefix in this piece: no copy.
          this.#ts ??= data.toString('latin1', pos, sp);
          this.#inTs = false;
          pos = sp + 1;
          continue;
        }
        const end = sp < 0 ? data.length : sp;
        this.#tsParts.push(data.subarray(pos, end));
        this.#tsLen += end - pos;
        if (this.#tsLen > MAX_TS_BYTES) {
          // Not a timestamp prefix: keep the bytes as text.
          const text = Buffer.concat(this.#tsParts);
          this.#tsParts = [];
          this.#tsLen = 0;
          this.#inTs = false;
          this.#append(text, emit);
          pos = end;
          continue;
        }
        if (sp < 0) return;
        const ts = Buffer.concat(this.#tsParts).toString('latin1');
        this.#tsParts = [];
        this.#tsLen = 0;
        this.#inTs = false;
        this.#ts ??= ts;
        pos = sp + 1;
        continue;
      }
      const nl = data.indexOf(NL, pos);
      if (nl >= 0 && this.#len === 0 && !this.#discarding && nl - pos <= this.#max) {
        // The usual case, a whole line in this piece: decoded in place.
        emit({ ts: this.#ts ?? '', stream: this.#stream, line: this.#textOf(data, pos, nl) });
        this.#ts = null;
        pos = nl + 1;
        if (this.#raw) this.#inTs = true;
        continue;
      }
      const end = nl < 0 ? data.length : nl;
      if (end > pos) this.#append(data.subarray(pos, end), emit);
      if (nl < 0) return;
      pos = nl + 1;
      if (this.#discarding) this.#reset();
      else this.#emit(emit);
      if (this.#raw) this.#inTs = true;
    }
  }

  /** The stream ended: a last line without a newline is still a line. */
  end(emit: (l: LogLine) => void): void {
    if (!this.#discarding && (this.#len > 0 || this.#ts !== null)) this.#emit(emit);
    this.#reset();
    this.#tsParts = [];
    this.#tsLen = 0;
  }

  #append(seg: Buffer, emit: (l: LogLine) => void): void {
    if (this.#discarding) return;
    if (this.#len + seg.length <= this.#max) {
      this.#parts.push(seg);
      this.#len += seg.length;
      return;
    }
    const room = this.#max - this.#len;
    const full = Buffer.concat([...this.#parts, seg.subarray(0, room)]);
    let cut = full.length;
    // Never split a character: if the first dropped byte continues a sequence, cut before
    // that sequence's lead byte.
    if ((seg[room]! & 0xc0) === 0x80) {
      while (cut > 0 && (full[cut - 1]! & 0xc0) === 0x80) cut--;
      if (cut > 0 && full[cut - 1]! >= 0xc0) cut--;
    }
    emit({ ts: this.#ts ?? '', stream: this.#stream, line: this.#text(full.subarray(0, cut)) + TRUNCATION_MARKER, truncated: true });
    this.#parts = [];
    this.#len = 0;
    this.#discarding = true;
  }

  #textOf(b: Buffer, start: number, end: number): string {
    // As #text: a TTY's "\r" before the newline is not part of the line.
    if (this.#raw && end > start && b[end - 1] === CR) end--;
    return b.toString('utf8', start, end);
  }

  #text(b: Buffer): string {
    const s = b.toString('utf8');
    // A TTY turns "\n" into "\r\n"; the engine splits on "\n" and keeps the "\r".
    return this.#raw && s.endsWith('\r') ? s.slice(0, -1) : s;
  }

  #emit(emit: (l: LogLine) => void): void {
    const b = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts);
    emit({ ts: this.#ts ?? '', stream: this.#stream, line: this.#text(b) });
    this.#reset();
  }

  #reset(): void {
    if (this.#parts.length) this.#parts = [];
    this.#len = 0;
    this.#ts = null;
    this.#discarding = false;
  }
}

export interface LogParserOptions {
  /** The container has a TTY: one raw stream (reported as stdout), no frames. */
  tty: boolean;
  maxLineBytes: number;
  onLine: (l: LogLine) => void;
  /** An error the engine reported inside the stream (frame type 3). */
  onEngineError?: (message: string) => void;
}

/**
 * Engine log bytes (with timestamps) -> lines. One parser per engine stream; feed it chunks
 * as they arrive and call end() when the stream ends. Throws DemuxError on a corrupt stream.
 */
export class LogParser {
  readonly #o: LogParserOptions;
  readonly #demux = new FrameDemuxer();
  readonly #out: LineAssembler;
  readonly #err: LineAssembler;

  constructor(o: LogParserOptions) {
    this.#o = o;
    this.#out = new LineAssembler('stdout', o.maxLineBytes, o.tty);
    this.#err = new LineAssembler('stderr', o.maxLineBytes, o.tty);
  }

  write(chunk: Buffer): void {
    if (this.#o.tty) {
      this.#out.write(chunk, false, this.#o.onLine);
      return;
    }
    this.#demux.push(chunk, this.#onFrame);
  }

  readonly #onFrame = (stream: number, data: Buffer, start: boolean): void => {
    if (stream === STREAM_STDOUT) this.#out.write(data, start, this.#o.onLine);
    else if (stream === STREAM_STDERR) this.#err.write(data, start, this.#o.onLine);
    else if (stream === STREAM_SYSTEM_ERROR) this.#o.onEngineError?.(data.toString('utf8'));
  };

  end(): void {
    this.#out.end(this.#o.onLine);
    this.#err.end(this.#o.onLine);
  }
}

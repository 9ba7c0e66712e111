import { PassThrough } from 'node:stream';
import type { LogOptions, LogStream } from '../../../src/runtime/container-runtime.js';

interface Entry {
  ns: bigint;
  ts: string;
  stream: 1 | 2;
  /** The message as the engine stores it: the line plus "\n" (a long line's pieces but the last: no "\n"). */
  text: Buffer;
}

/** The engine's log copier reads 16 KiB at a time: a longer line is stored as several entries. */
const ENTRY_BYTES = 16 * 1024;

/** Go's RFC3339Nano, as the engine prints it: trailing zeros of the fraction trimmed. */
function rfc3339Nano(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const frac = String(ns % 1_000_000_000n).padStart(9, '0').replace(/0+$/, '');
  return `${new Date(ms).toISOString().slice(0, 19)}${frac ? `.${frac}` : ''}Z`;
}

function engineSecondsToNs(v: string): bigint {
  const [s = '0', f = ''] = v.split('.');
  return BigInt(s) * 1_000_000_000n + BigInt(f.padEnd(9, '0').slice(0, 9) || '0');
}

function frame(stream: number, payload: Buffer): Buffer {
  const body = payload;
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

/**
 * The fake runtime's container logs: what the engine's json-file driver would hold, served in
 * the engine's wire format (multiplexed frames, RFC3339Nano prefixes), with tail/since/until
 * and the stream choice applied as the engine applies them: `tail` counts the entries of both
 * streams, and since/until and stdout/stderr filter those afterwards (so `tail=5&stdout=1&
 * stderr=0` can answer nothing). Lines over 16 KiB are several entries, each with its own
 * timestamp, as the engine stores them. Follow streams end when the container stops.
 */
export class FakeLogs {
  readonly #entries = new Map<string, Entry[]>();
  readonly #followers = new Map<string, Set<PassThrough>>();
  #clock = BigInt(Date.now()) * 1_000_000n;
  /** Engine log streams currently open (not yet ended or closed). */
  openStreams = 0;

  /** The container writes `text` (split into lines) to stdout or stderr. */
  append(containerId: string, stream: 'stdout' | 'stderr', text: string): void {
    const list = this.#entries.get(containerId) ?? [];
    this.#entries.set(containerId, list);
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    for (const line of lines) {
      const bytes = Buffer.from(`${line}\n`);
      for (let off = 0; off < bytes.length; off += ENTRY_BYTES) {
        this.#clock += 1000n + BigInt(Math.floor(Math.random() * 1000));
        const text = bytes.subarray(off, Math.min(bytes.length, off + ENTRY_BYTES));
        const e: Entry = { ns: this.#clock, ts: rfc3339Nano(this.#clock), stream: stream === 'stdout' ? 1 : 2, text };
        list.push(e);
        for (const f of this.#followers.get(containerId) ?? []) f.write(frame(e.stream, Buffer.concat([Buffer.from(`${e.ts} `), e.text])));
      }
    }
  }

  /** The container is silent for `seconds`: the next line's timestamp is that much later. */
  pause(seconds: number): void {
    this.#clock += BigInt(seconds) * 1_000_000_000n;
  }

  open(containerId: string, running: boolean, o: LogOptions): LogStream {
    let list = this.#entries.get(containerId) ?? [];
    if (o.tail !== 'all') list = o.tail === 0 ? [] : list.slice(-o.tail);
    if (o.since) {
      const since = engineSecondsToNs(o.since);
      list = list.filter((e) => e.ns >= since);
    }
    if (o.until) {
      const until = engineSecondsToNs(o.until);
      list = list.filter((e) => e.ns <= until);
    }
    const out = new PassThrough();
    this.openStreams++;
    let open = true;
    const done = () => {
      if (!open) return;
      open = false;
      this.openStreams--;
      this.#followers.get(containerId)?.delete(out);
    };
    out.on('close', done);
    out.on('end', done);
    for (const e of list) {
      if ((e.stream === 1 && o.stdout) || (e.stream === 2 && o.stderr)) out.write(frame(e.stream, Buffer.concat([Buffer.from(o.timestamps ? `${e.ts} ` : ''), e.text])));
    }
    if (o.follow && running) {
      const set = this.#followers.get(containerId) ?? new Set();
      set.add(out);
      this.#followers.set(containerId, set);
    } else out.end();
    return { tty: false, stream: out, close: () => out.destroy() };
  }

  /** The container stopped or was removed: follow streams end, as the engine ends them. */
  endFollowers(containerId: string): void {
    for (const f of this.#followers.get(containerId) ?? []) f.end();
    this.#followers.delete(containerId);
  }
}

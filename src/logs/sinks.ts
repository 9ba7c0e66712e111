import type { Writable } from 'node:stream';
import { WS_CLOSE } from '../api/websocket.js';
import type { LogSink } from './session.js';
import type { EndReason, LogLine } from './types.js';

/** What WsLogSink needs of a JSON WebSocket (api/websocket.ts JsonSocket). */
export interface JsonChannel {
  readonly closed: boolean;
  send(msg: unknown): void;
  /** Sends a message already serialized as JSON (`ascii`: every character of it is below 0x80). */
  sendJson(json: string, ascii?: boolean): void;
  close(code: number, reason: string): void;
  overflow(): void;
  hasRoom(): boolean;
  waitForRoom(): Promise<void>;
}

/** A line serialized: its JSON text, and whether every character of that text is ASCII. */
export interface LineJson {
  readonly text: string;
  readonly ascii: boolean;
}

/** Characters JSON.stringify escapes (quote, backslash, controls, lone surrogates) or that are not ASCII. */
const NOT_PLAIN = /["\\\u0000-\u001f\u007f-\uffff]/;

/** The last line serialized: a pod's followers are handed the same line one after another. */
let lastLine: LogLine | undefined;
let lastJson: LineJson = { text: '', ascii: true };

/**
 * JSON.stringify(l), character for character, built without walking the object: the keys in
 * the order lines.ts creates them (ts, stream, line, then truncated when set), the stream a
 * fixed word, and ts and line quoted as they are when nothing in them needs an escape (the
 * usual case), else escaped by JSON.stringify itself.
 */
export function lineJson(l: LogLine): LineJson {
  if (l === lastLine) return lastJson;
  const tsPlain = !NOT_PLAIN.test(l.ts);
  const linePlain = !NOT_PLAIN.test(l.line);
  const ts = tsPlain ? `"${l.ts}"` : JSON.stringify(l.ts);
  const line = linePlain ? `"${l.line}"` : JSON.stringify(l.line);
  const head = `{"ts":${ts},"stream":"${l.stream}","line":${line}`;
  lastJson = { text: l.truncated ? `${head},"truncated":true}` : `${head}}`, ascii: tsPlain && linePlain };
  lastLine = l;
  return lastJson;
}

const CLOSE_CODE: Record<EndReason, number> = {
  complete: WS_CLOSE.NORMAL,
  'not-running': WS_CLOSE.NORMAL,
  stopped: WS_CLOSE.NORMAL,
  deleted: WS_CLOSE.NORMAL,
  shutdown: WS_CLOSE.GOING_AWAY,
  error: WS_CLOSE.INTERNAL_ERROR,
};

/** WebSocket: one `{ ts, stream, line }` message per line, then `{ type: "end", reason }`. */
export class WsLogSink implements LogSink {
  readonly #ch: JsonChannel;

  constructor(ch: JsonChannel) {
    this.#ch = ch;
  }

  get closed(): boolean {
    return this.#ch.closed;
  }

  send(l: LogLine): void {
    const j = lineJson(l);
    this.#ch.sendJson(j.text, j.ascii);
  }

  end(reason: EndReason): void {
    this.#ch.send({ type: 'end', reason });
    this.#ch.close(CLOSE_CODE[reason], reason);
  }

  overflow(): void {
    this.#ch.overflow();
  }

  hasRoom(): boolean {
    return this.#ch.hasRoom();
  }

  waitForRoom(): Promise<void> {
    return this.#ch.waitForRoom();
  }
}

/** Bytes a response body may hold before the backlog pauses. */
const BODY_HIGH_WATER = 1024 * 1024;

/**
 * HTTP body: `text/plain` lines as `docker logs` prints them (with `timestamps`, prefixed by
 * the engine's timestamp and a space), or NDJSON `{ ts, stream, line }`. An engine failure
 * mid-body destroys the response, so the client sees a broken transfer, not a short log.
 */
export class BodyLogSink implements LogSink {
  readonly #body: Writable;
  readonly #ndjson: boolean;
  readonly #timestamps: boolean;
  #closed = false;

  constructor(body: Writable, o: { ndjson: boolean; timestamps: boolean }) {
    this.#body = body;
    this.#ndjson = o.ndjson;
    this.#timestamps = o.timestamps;
    body.on('close', () => (this.#closed = true));
  }

  get closed(): boolean {
    return this.#closed || this.#body.destroyed;
  }

  send(l: LogLine): void {
    if (this.closed) return;
    this.#body.write(this.#ndjson ? `${lineJson(l).text}\n` : `${this.#timestamps ? `${l.ts} ` : ''}${l.line}\n`);
  }

  end(reason: EndReason): void {
    if (this.closed) return;
    if (reason === 'error' || reason === 'shutdown') this.#body.destroy(new Error(`log stream ended: ${reason}`));
    else this.#body.end();
  }

  overflow(): void {
    this.#body.destroy();
  }

  hasRoom(): boolean {
    return this.#body.writableLength < BODY_HIGH_WATER;
  }

  async waitForRoom(): Promise<void> {
    if (this.hasRoom() || this.closed) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.#body.off('drain', done);
        this.#body.off('close', done);
        resolve();
      };
      this.#body.on('drain', done);
      this.#body.on('close', done);
    });
  }
}

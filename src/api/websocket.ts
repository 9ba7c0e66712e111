import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { PinacledError } from '../errors.js';
import { FrameBatch } from './ws-frames.js';

/**
 * WebSocket conventions shared by the log and event streams (openapi.yaml describes them).
 *
 * Authentication: `Authorization: Bearer <token>`, or, for browsers (which cannot set headers
 * on a WebSocket), the subprotocol list `pinacled.v1, bearer.<token>`. The server always
 * selects `pinacled.v1`: a browser fails a handshake whose answer names no offered protocol,
 * and echoing the `bearer.<token>` entry would put the token in a response header. The token
 * is never accepted in the URL, where access logs would keep it.
 */
export const WS_SUBPROTOCOL = 'pinacled.v1';

/**
 * Close codes. 4001 is ours: the client did not read fast enough and was dropped. A stream
 * that ends with a problem after the handshake (exec: a bad first message, a pod that stopped
 * meanwhile) sends it as a JSON message and closes with 4000 + its HTTP status (wsProblemClose).
 */
export const WS_CLOSE = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  INTERNAL_ERROR: 1011,
  SLOW_CONSUMER: 4001,
} as const;

/** The close code of a stream ended by a problem of HTTP status `status` (4400, 4409, 4503...). */
export function wsProblemClose(status: number): number {
  return 4000 + status;
}

/**
 * The largest message a client may send (an exec's first message, a chunk of its stdin): ws
 * closes a connection with 1009 beyond it. Each connection assembles at most one such message.
 */
export const WS_MAX_CLIENT_MESSAGE_BYTES = 64 * 1024;

/** Ping interval; a client that has not answered the previous ping is cut off. */
export const HEARTBEAT_MS = 30_000;
/** A dropped client that does not complete the close handshake is cut off after this. */
const DROP_GRACE_MS = 2000;
/** Queued messages are written at the latest when they reach this many bytes. */
export const FLUSH_BYTES = 128 * 1024;
/**
 * While messages keep coming, writes to one socket are at least this far apart, so a burst
 * leaves in a few large writes; a message to a socket that has not been written to for this
 * long leaves at the end of the current turn of the event loop.
 */
export const FLUSH_INTERVAL_MS = 10;

function offered(req: FastifyRequest): string[] {
  const h = req.headers['sec-websocket-protocol'];
  if (typeof h !== 'string') return [];
  return h
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** ws `handleProtocols`: pinacled.v1 or nothing (checkSubprotocols refused the rest). */
export function selectSubprotocol(protocols: Set<string>): string | false {
  return protocols.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : false;
}

/**
 * preHandler of WebSocket routes: a client that offers subprotocols must offer pinacled.v1,
 * or its handshake would fail in the browser with no reason given. A 400 says why.
 */
export async function checkSubprotocols(req: FastifyRequest): Promise<void> {
  const list = offered(req);
  if (list.length && !list.includes(WS_SUBPROTOCOL)) {
    throw new PinacledError('PINACLED_ERR_VALIDATION', `Offer the subprotocol ${WS_SUBPROTOCOL} (with bearer.<token> if the token travels there)`, {
      fields: [{ field: 'sec-websocket-protocol', message: `must include ${WS_SUBPROTOCOL}` }],
    });
  }
}

/** The plain-HTTP side of a WebSocket route. */
export async function upgradeRequired(_req: FastifyRequest, reply: FastifyReply): Promise<never> {
  reply.header('upgrade', 'websocket');
  throw new PinacledError('PINACLED_ERR_UPGRADE_REQUIRED', `Connect with a WebSocket (subprotocol ${WS_SUBPROTOCOL})`);
}

/** The JsonSocket of each server socket, for flushQueued(). */
const jsonSockets = new WeakMap<WebSocket, JsonSocket>();

/** Writes what the JsonSocket of `ws` (if any) has queued: call before closing `ws` directly. */
export function flushQueued(ws: WebSocket): void {
  jsonSockets.get(ws)?.flush();
}

/**
 * A WebSocket of JSON text messages (and, for exec, binary data messages) with a bounded send buffer: when more than `maxBufferBytes` are
 * queued for a client (it does not read, or reads too slowly), it is dropped with close code
 * 4001 instead of growing the daemon's memory. Pings detect dead peers.
 *
 * Messages are framed into one buffer as they are sent (ws-frames.ts) and written to the
 * socket together: at the end of the current turn of the event loop if the socket was not
 * written to in the last FLUSH_INTERVAL_MS, else that long after the previous write; at once
 * when they reach FLUSH_BYTES; and before the close frame. One write per message (ws.send)
 * cost a syscall per log line, and the engine delivers one line per chunk, so nothing else
 * groups them. Queued bytes count toward the limit like bytes in the socket's buffer.
 */
export class JsonSocket {
  readonly #ws: WebSocket;
  readonly #max: number;
  readonly #heartbeat: NodeJS.Timeout;
  readonly #onClose: (() => void)[] = [];
  readonly #log: Pick<FastifyBaseLogger, 'info'> | undefined;
  #closed = false;
  #alive = true;
  /** Frames are written by us (no extension negotiated); else every message goes through ws.send. */
  readonly #socket: { write(b: Buffer): boolean } | undefined;
  readonly #out = new FrameBatch();
  #flushQueued = false;
  #lastWriteAt = -Infinity;
  #onMessage: ((data: Buffer, isBinary: boolean) => void) | undefined;
  /** While we do not read the client, its pongs are not read either: no heartbeat verdict. */
  #inputPaused = false;

  constructor(ws: WebSocket, o: { maxBufferBytes: number; heartbeatMs?: number; log?: Pick<FastifyBaseLogger, 'info'> }) {
    this.#ws = ws;
    this.#max = o.maxBufferBytes;
    this.#log = o.log;
    // ws's own sender writes every frame straight to this socket (it queues only while it
    // compresses, which needs an extension this server never negotiates), so frames we write
    // whole between its frames keep the order of the messages.
    const socket = (ws as unknown as { _socket?: { write(b: Buffer): boolean } })._socket;
    this.#socket = ws.extensions === '' ? socket : undefined;
    jsonSockets.set(ws, this);
    ws.on('pong', () => (this.#alive = true));
    // Clients have nothing to say on most streams: what they send is ignored unless the
    // stream's owner listens (onMessage).
    ws.on('message', (data: Buffer, isBinary: boolean) => this.#onMessage?.(data, isBinary));
    ws.on('close', () => this.#gone());
    ws.on('error', () => this.#gone());
    this.#heartbeat = setInterval(() => {
      if (this.#inputPaused) return;
      if (!this.#alive) return ws.terminate();
      this.#alive = false;
      ws.ping();
    }, o.heartbeatMs ?? HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  get closed(): boolean {
    return this.#closed;
  }

  onClose(fn: () => void): void {
    if (this.#closed) fn();
    else this.#onClose.push(fn);
  }

  send(msg: unknown): void {
    this.sendJson(JSON.stringify(msg));
  }

  /** The client's messages (the server's ws delivers each as one Buffer: its default binaryType). */
  onMessage(fn: (data: Buffer, isBinary: boolean) => void): void {
    this.#onMessage = fn;
  }

  /** Stops reading from the client (backpressure on its input); resumeInput() reads again. */
  pauseInput(): void {
    this.#inputPaused = true;
    if (!this.#closed) this.#ws.pause();
  }

  resumeInput(): void {
    this.#inputPaused = false;
    if (!this.#closed) this.#ws.resume();
  }

  /**
   * Sends a binary message: `prefix` (one byte), then `data`. Queued with the JSON messages, in
   * order, under the same limit.
   */
  sendBinary(data: Buffer, prefix?: number): void {
    if (this.#closed || this.#ws.readyState !== this.#ws.OPEN) return;
    if (!this.#socket) this.#ws.send(prefix === undefined ? data : Buffer.concat([Buffer.of(prefix), data]), { binary: true });
    else {
      this.#out.addBinary(data, prefix);
      this.#queued();
    }
    if (this.queuedBytes > this.#max) this.overflow();
  }

  /**
   * Sends a message already serialized (`text` must be JSON). `ascii`: the caller knows every
   * character of it is below 0x80 (it is then framed without an encoder call).
   */
  sendJson(text: string, ascii = false): void {
    if (this.#closed || this.#ws.readyState !== this.#ws.OPEN) return;
    if (!this.#socket) {
      this.#ws.send(text);
    } else {
      if (ascii) this.#out.addAscii(text);
      else this.#out.add(text);
      this.#queued();
    }
    if (this.queuedBytes > this.#max) this.overflow();
  }

  /** A message was added to the batch: write now, or schedule the write. */
  #queued(): void {
    if (this.#out.bytes >= FLUSH_BYTES) this.flush();
    else if (!this.#flushQueued) {
      this.#flushQueued = true;
      const wait = this.#lastWriteAt + FLUSH_INTERVAL_MS - performance.now();
      if (wait > 0) setTimeout(this.#flushLater, wait);
      else setImmediate(this.#flushLater);
    }
  }

  /** Bytes queued for the client and not yet taken by the kernel: ours, then ws's and the socket's. */
  get queuedBytes(): number {
    return this.#out.bytes + this.#ws.bufferedAmount;
  }

  /** Room for a paced sender (backlogs, replays): under a quarter of the limit queued. */
  hasRoom(): boolean {
    return !this.#closed && this.queuedBytes < this.#max / 4;
  }

  async waitForRoom(): Promise<void> {
    while (!this.#closed && !this.hasRoom()) await new Promise((r) => setTimeout(r, 10));
  }

  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.flush();
    this.#ws.close(code, reason);
    this.#readClose();
    this.#gone();
  }

  /** A paused input would never read the client's close frame: the handshake needs it. */
  #readClose(): void {
    if (!this.#inputPaused) return;
    this.#inputPaused = false;
    this.#ws.resume();
  }

  /** Drops a client that does not keep up: close 4001, cut off if it does not answer. */
  overflow(): void {
    if (this.#closed) return;
    const ws = this.#ws;
    this.#log?.info({ bufferedBytes: this.queuedBytes, limit: this.#max }, 'websocket client dropped: slow consumer (close 4001)');
    this.#out.clear();
    ws.close(WS_CLOSE.SLOW_CONSUMER, 'slow consumer');
    this.#readClose();
    setTimeout(() => ws.terminate(), DROP_GRACE_MS).unref();
    this.#gone();
  }

  readonly #flushLater = (): void => {
    this.#flushQueued = false;
    this.flush();
  };

  /** Writes the queued messages now. */
  flush(): void {
    if (this.#out.size === 0) return;
    if (this.#closed || this.#ws.readyState !== this.#ws.OPEN) return this.#out.clear();
    this.#lastWriteAt = performance.now();
    this.#socket!.write(this.#out.take());
  }

  #gone(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#out.clear();
    clearInterval(this.#heartbeat);
    for (const fn of this.#onClose.splice(0)) fn();
  }
}

import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { PinacledError } from '../errors.js';

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

/** Close codes. 4001 is ours: the client did not read fast enough and was dropped. */
export const WS_CLOSE = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  INTERNAL_ERROR: 1011,
  SLOW_CONSUMER: 4001,
} as const;

/** Ping interval; a client that has not answered the previous ping is cut off. */
export const HEARTBEAT_MS = 30_000;
/** A dropped client that does not complete the close handshake is cut off after this. */
const DROP_GRACE_MS = 2000;

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

/**
 * A JSON-message WebSocket with a bounded send buffer: when more than `maxBufferBytes` are
 * queued for a client (it does not read, or reads too slowly), it is dropped with close code
 * 4001 instead of growing the daemon's memory. Pings detect dead peers.
 */
export class JsonSocket {
  readonly #ws: WebSocket;
  readonly #max: number;
  readonly #heartbeat: NodeJS.Timeout;
  readonly #onClose: (() => void)[] = [];
  readonly #log: Pick<FastifyBaseLogger, 'info'> | undefined;
  #closed = false;
  #alive = true;

  constructor(ws: WebSocket, o: { maxBufferBytes: number; heartbeatMs?: number; log?: Pick<FastifyBaseLogger, 'info'> }) {
    this.#ws = ws;
    this.#max = o.maxBufferBytes;
    this.#log = o.log;
    ws.on('pong', () => (this.#alive = true));
    // Clients have nothing to say on these streams; anything they send is ignored.
    ws.on('message', () => undefined);
    ws.on('close', () => this.#gone());
    ws.on('error', () => this.#gone());
    this.#heartbeat = setInterval(() => {
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
    if (this.#closed || this.#ws.readyState !== this.#ws.OPEN) return;
    this.#ws.send(JSON.stringify(msg));
    if (this.#ws.bufferedAmount > this.#max) this.overflow();
  }

  /**
   * Frames sent between batch(true) and batch(false) leave in one socket write (cork): a burst
   * of short log lines otherwise costs one write syscall each.
   */
  batch(on: boolean): void {
    const socket = (this.#ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
    if (on) socket?.cork();
    else socket?.uncork();
  }

  /** Room for a paced sender (backlogs, replays): under a quarter of the limit queued. */
  hasRoom(): boolean {
    return !this.#closed && this.#ws.bufferedAmount < this.#max / 4;
  }

  async waitForRoom(): Promise<void> {
    while (!this.#closed && !this.hasRoom()) await new Promise((r) => setTimeout(r, 10));
  }

  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#ws.close(code, reason);
    this.#gone();
  }

  /** Drops a client that does not keep up: close 4001, cut off if it does not answer. */
  overflow(): void {
    if (this.#closed) return;
    const ws = this.#ws;
    this.#log?.info({ bufferedBytes: ws.bufferedAmount, limit: this.#max }, 'websocket client dropped: slow consumer (close 4001)');
    ws.close(WS_CLOSE.SLOW_CONSUMER, 'slow consumer');
    setTimeout(() => ws.terminate(), DROP_GRACE_MS).unref();
    this.#gone();
  }

  #gone(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    for (const fn of this.#onClose.splice(0)) fn();
  }
}

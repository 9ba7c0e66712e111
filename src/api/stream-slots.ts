import type { FastifyReply, FastifyRequest } from 'fastify';
import { problemOf, sendProblem } from './problem.js';

export interface StreamSlotOptions {
  /** Open WebSocket streams one token may hold. */
  perToken: number;
  /** Open WebSocket streams the daemon holds in all. */
  total: number;
}

/**
 * Counts open WebSocket streams (logs, events, and whatever streams next) per caller key and in
 * all. Each stream may queue up to PINACLED_WS_MAX_BUFFER_BYTES for a slow reader, so the two
 * limits bound the memory streams can hold: total x buffer (default 256 x 4 MiB = 1 GiB).
 * A slot is taken at the upgrade request and given back when its TCP connection closes, whatever
 * closed it (the client, a refusal after the upgrade, shutdown), so no path leaks a slot.
 */
export class StreamSlots {
  readonly #o: StreamSlotOptions;
  readonly #perKey = new Map<string, number>();
  #total = 0;

  constructor(o: StreamSlotOptions) {
    this.#o = o;
  }

  /** Takes a slot: a function that gives it back (once), or which limit is reached. */
  take(key: string): (() => void) | 'token' | 'total' {
    const mine = this.#perKey.get(key) ?? 0;
    if (mine >= this.#o.perToken) return 'token';
    if (this.#total >= this.#o.total) return 'total';
    this.#perKey.set(key, mine + 1);
    this.#total++;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.#total--;
      const left = (this.#perKey.get(key) ?? 1) - 1;
      if (left === 0) this.#perKey.delete(key);
      else this.#perKey.set(key, left);
    };
  }
}

/**
 * The onRequest check (after auth) for WebSocket upgrades: 429 PINACLED_ERR_TOO_MANY_STREAMS
 * once the token or the daemon holds its limit of open streams; true when it answered.
 */
export function streamLimiter(slots: StreamSlots, keyOf: (req: FastifyRequest) => string | undefined) {
  return (req: FastifyRequest, reply: FastifyReply): boolean => {
    if (!(req as { ws?: boolean }).ws) return false;
    const key = keyOf(req) ?? 'anonymous';
    const slot = slots.take(key);
    if (typeof slot === 'function') {
      req.raw.socket.once('close', slot);
      return false;
    }
    const detail = slot === 'token'
      ? 'This token holds its limit of open streams (PINACLED_WS_MAX_STREAMS_PER_TOKEN); close one first'
      : 'The daemon holds its limit of open streams (PINACLED_WS_MAX_STREAMS); retry later';
    sendProblem(reply, problemOf('PINACLED_ERR_TOO_MANY_STREAMS', detail, undefined, req.url.split('?')[0]));
    return true;
  };
}

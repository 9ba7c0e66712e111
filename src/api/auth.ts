import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { problemOf, sendProblem } from './problem.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Bearer-token check. Tokens are compared as SHA-256 digests with timingSafeEqual, so neither
 * the content nor the length of a valid token leaks through timing. Every accepted token is
 * compared (no early exit) so the number of configured tokens does not leak either.
 */
export class TokenChecker {
  readonly #digests: Buffer[];

  constructor(tokens: string[]) {
    this.#digests = tokens.map(digest);
  }

  matches(candidate: string | undefined): boolean {
    if (!candidate) return false;
    const d = digest(candidate);
    let ok = false;
    for (const t of this.#digests) ok = timingSafeEqual(d, t) || ok;
    return ok;
  }

  /** `Authorization: Bearer <token>`; browsers' WebSockets may send `bearer.<token>` as a subprotocol. */
  static fromRequest(req: FastifyRequest): string | undefined {
    const h = req.headers.authorization;
    if (h && /^bearer /i.test(h)) return h.slice(7).trim();
    const proto = req.headers['sec-websocket-protocol'];
    if (typeof proto === 'string') {
      for (const p of proto.split(',').map((s) => s.trim())) if (p.startsWith('bearer.')) return p.slice(7);
    }
    return undefined;
  }
}

/** A per-caller key that is not the token itself (rate-limit buckets): its SHA-256, hex. */
export function callerKey(req: FastifyRequest): string | undefined {
  const token = TokenChecker.fromRequest(req);
  return token ? digest(token).toString('hex') : undefined;
}

/** Answers 401 unless the request carries one of `checker`'s tokens; true when it answered. */
export function refuseUnauthenticated(checker: TokenChecker, req: FastifyRequest, reply: FastifyReply): boolean {
  if (checker.matches(TokenChecker.fromRequest(req))) return false;
  reply.header('www-authenticate', 'Bearer realm="pinacled"');
  sendProblem(reply, problemOf('PINACLED_ERR_UNAUTHORIZED', 'Send Authorization: Bearer <token>', undefined, req.url.split('?')[0]));
  return true;
}

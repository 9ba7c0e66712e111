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

/** The one route metrics tokens open. */
export const METRICS_ROUTE = '/metrics';

/**
 * Token scopes. API tokens open every route but /metrics while metrics tokens are configured;
 * metrics tokens open /metrics only (Prometheus holds one, so a scrape config cannot delete
 * pods). Without metrics tokens /metrics takes the API tokens. A token of the other scope is a
 * 403 (it is valid, not for this route); anything else a 401.
 */
export class RouteAccess {
  readonly #api: TokenChecker;
  readonly #metrics: TokenChecker | undefined;

  constructor(apiTokens: string[], metricsTokens: string[]) {
    this.#api = new TokenChecker(apiTokens);
    this.#metrics = metricsTokens.length ? new TokenChecker(metricsTokens) : undefined;
  }

  /** Answers 401 or 403 unless the request's token opens `route` (a route template); true when it answered. */
  refuse(route: string | undefined, req: FastifyRequest, reply: FastifyReply): boolean {
    const token = TokenChecker.fromRequest(req);
    const metricsOnly = route === METRICS_ROUTE && this.#metrics !== undefined;
    const allowed = metricsOnly ? this.#metrics! : this.#api;
    if (allowed.matches(token)) return false;
    const instance = req.url.split('?')[0];
    const other = metricsOnly ? this.#api : route === METRICS_ROUTE ? undefined : this.#metrics;
    if (other?.matches(token)) {
      const detail = metricsOnly ? 'Use the metrics token on /metrics' : 'A metrics token opens /metrics only';
      sendProblem(reply, problemOf('PINACLED_ERR_FORBIDDEN', detail, undefined, instance));
      return true;
    }
    reply.header('www-authenticate', 'Bearer realm="pinacled"');
    sendProblem(reply, problemOf('PINACLED_ERR_UNAUTHORIZED', 'Send Authorization: Bearer <token>', undefined, instance));
    return true;
  }
}

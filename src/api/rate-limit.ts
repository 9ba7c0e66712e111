import type { FastifyReply, FastifyRequest } from 'fastify';
import { problemOf, sendProblem } from './problem.js';

export interface RateLimitOptions {
  /** Sustained rate; 0 disables the limit. */
  perMinute: number;
  /** Requests allowed at once after an idle period. */
  burst: number;
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token bucket per key (the SHA-256 digest of the caller's bearer token). It runs after
 * authentication, so only valid tokens get a bucket: the map is bounded by the configured
 * token count, and unauthenticated floods cannot grow it.
 */
export class TokenBuckets {
  readonly #o: Required<RateLimitOptions>;
  readonly #buckets = new Map<string, Bucket>();

  constructor(o: RateLimitOptions) {
    this.#o = { now: () => Date.now(), ...o };
  }

  get enabled(): boolean {
    return this.#o.perMinute > 0;
  }

  /** Takes one token: 0 when allowed, else the seconds until one is available. */
  take(key: string): number {
    if (!this.enabled) return 0;
    const now = this.#o.now();
    const perMs = this.#o.perMinute / 60_000;
    const b = this.#buckets.get(key) ?? { tokens: this.#o.burst, at: now };
    b.tokens = Math.min(this.#o.burst, b.tokens + (now - b.at) * perMs);
    b.at = now;
    this.#buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000));
  }
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The onRequest check (after auth): 429 with Retry-After once a token's bucket is empty; true when it answered. */
export function rateLimiter(buckets: TokenBuckets, keyOf: (req: FastifyRequest) => string | undefined) {
  return (req: FastifyRequest, reply: FastifyReply): boolean => {
    if (!buckets.enabled || !MUTATING.has(req.method)) return false;
    const key = keyOf(req);
    if (key === undefined) return false;
    const wait = buckets.take(key);
    if (wait === 0) return false;
    reply.header('retry-after', String(wait));
    sendProblem(reply, problemOf('PINACLED_ERR_RATE_LIMITED', `Too many changes with this token; retry in ${wait} s`, undefined, req.url.split('?')[0]));
    return true;
  };
}

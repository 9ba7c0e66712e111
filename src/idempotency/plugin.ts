import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PinacledError } from '../errors.js';
import { callerKey } from '../api/auth.js';
import { fingerprint } from './fingerprint.js';
import type { IdempotencyLedger } from './ledger.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The Idempotency-Key this request runs under (set only while it runs the operation). */
    idempotencyKey: string | null;
    /** For POST /v1/pods: links the key's record to the pod the create inserts. */
    podIntent: ((podId: string) => void) | undefined;
  }
}

/** The routes that honour Idempotency-Key (method + route template). */
export const IDEMPOTENT_ROUTES: ReadonlySet<string> = new Set([
  'POST /v1/pods',
  'POST /v1/pods/:id/start',
  'POST /v1/pods/:id/stop',
  'POST /v1/pods/:id/restart',
  'DELETE /v1/pods/:id',
  'POST /v1/pods/:id/exec',
]);

export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** Set on an answer that is a replay of the first one. */
export const REPLAYED_HEADER = 'idempotent-replayed';
const KEY_FORMAT = /^[\x21-\x7e]{1,255}$/;
/** Headers of the first answer that a replay repeats. */
const KEPT_HEADERS = ['content-type', 'location'];

/**
 * Idempotency-Key as hooks on the routes in IDEMPOTENT_ROUTES, so the routes stay thin:
 * preHandler (after auth and body parsing) decides run / replay / 409 / 422, onSend records the
 * answer. Requests without the header are untouched.
 */
export function idempotencyHooks(app: FastifyInstance, idem: IdempotencyLedger): void {
  app.decorateRequest('idempotencyKey', null);
  app.decorateRequest('podIntent', undefined);

  const preHandler = async (req: FastifyRequest, reply: FastifyReply) => {
    const route = `${req.method} ${req.routeOptions.url ?? ''}`;
    const raw = req.headers[IDEMPOTENCY_HEADER];
    if (raw === undefined) return;
    if (typeof raw !== 'string' || !KEY_FORMAT.test(raw)) {
      throw new PinacledError('PINACLED_ERR_VALIDATION', 'The Idempotency-Key header is invalid', {
        fields: [{ field: 'headers.idempotency-key', message: 'must be one value of 1-255 visible ASCII characters' }],
      });
    }
    const podId = (req.params as { id?: string }).id ?? null;
    const key = scopedKey(req, raw);
    const r = idem.begin(key, fingerprint(req.method, req.url, req.body), { route, podId });
    if (r.kind === 'replay') {
      reply.code(r.status).header(REPLAYED_HEADER, 'true');
      for (const [k, v] of Object.entries(r.headers)) reply.header(k, v);
      return reply.send(r.status === 204 ? undefined : r.body);
    }
    req.idempotencyKey = key;
    if (route === 'POST /v1/pods') req.podIntent = (id) => idem.noteIntent(key, id);
  };

  const onSend = async (req: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const key = req.idempotencyKey;
    if (key) {
      req.idempotencyKey = null;
      const headers: Record<string, string> = {};
      for (const h of KEPT_HEADERS) {
        const v = reply.getHeader(h);
        if (v !== undefined) headers[h] = String(v);
      }
      idem.finish(key, reply.statusCode, headers, withoutSecrets(bodyText(payload)));
    }
    return payload;
  };

  // Only the routes that honour the header carry the hooks: reads pay nothing for them.
  app.addHook('onRoute', (r) => {
    const methods = [r.method].flat();
    if (!methods.some((m) => IDEMPOTENT_ROUTES.has(`${m} ${r.url}`))) return;
    r.preHandler = [...[r.preHandler ?? []].flat(), preHandler] as typeof r.preHandler;
    r.onSend = [...[r.onSend ?? []].flat(), onSend] as typeof r.onSend;
  });
}

/**
 * Keys are scoped to the token that sent them: the stored key is the SHA-256 of the caller's
 * token digest and the key, so a second token sending the same key runs its own request (and
 * never gets the first one's answer), and the store holds neither tokens nor raw keys.
 */
function scopedKey(req: FastifyRequest, raw: string): string {
  return scopeKey(callerKey(req), raw);
}

/** The stored form of key `raw` sent by the caller whose token digest is `caller` (see callerKey). */
export function scopeKey(caller: string | undefined, raw: string): string {
  return createHash('sha256').update(`${caller ?? ''}\n${raw}`).digest('hex');
}

/**
 * The answer as stored for replay: a create's generated `secrets` are shown once, to the first
 * answer only, and never written to the store (a replay answers the pod without `secrets`).
 */
function withoutSecrets(body: string): string {
  if (!body.includes('"secrets"')) return body;
  try {
    const parsed = JSON.parse(body) as unknown;
    if (!parsed || typeof parsed !== 'object' || !('secrets' in parsed)) return body;
    const { secrets, ...rest } = parsed as Record<string, unknown>;
    // An empty `secrets` holds nothing: kept, so such replays stay byte-identical.
    if (secrets && typeof secrets === 'object' && Object.keys(secrets).length === 0) return body;
    return JSON.stringify(rest);
  } catch {
    return body;
  }
}

function bodyText(payload: unknown): string {
  if (typeof payload === 'string') return payload;
  if (Buffer.isBuffer(payload)) return payload.toString('utf8');
  return '';
}

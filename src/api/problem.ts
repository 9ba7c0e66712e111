import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { ZodError } from 'zod';
import { ERRORS, PinacledError, RETRY_AFTER_S, type ErrorCode, type FieldIssue } from '../errors.js';
import { methodsFor } from './route-table.js';

export const PROBLEM_TYPE_BASE = 'https://pinacle.dev/errors/';

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  instance?: string;
  errors?: FieldIssue[];
}

export function problemOf(code: ErrorCode, detail: string, fields?: FieldIssue[], instance?: string): Problem {
  const p: Problem = { type: `${PROBLEM_TYPE_BASE}${code}`, title: ERRORS[code].title, status: ERRORS[code].status, code, detail };
  if (instance) p.instance = instance;
  if (fields?.length) p.errors = fields;
  return p;
}

/** Every problem answer goes through here; Retry-After comes from the code (RETRY_AFTER_S) unless the caller computed one (429). */
export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  const retryAfter = RETRY_AFTER_S[p.code];
  if (retryAfter !== undefined && !reply.hasHeader('retry-after')) reply.header('retry-after', String(retryAfter));
  return reply.code(p.status).type('application/problem+json').send(p);
}

export function zodFields(err: ZodError, prefix?: string): FieldIssue[] {
  return err.issues.flatMap((i) => {
    // Unknown keys: name the key itself, which is what the caller needs to remove.
    const keys = i.code === 'unrecognized_keys' ? i.keys : [undefined];
    return keys.map((k) => ({
      field: [prefix, ...i.path.map(String), k].filter((x) => x !== undefined && x !== '').join('.') || '(body)',
      message: i.code === 'unrecognized_keys' ? 'is not a known field' : i.message,
    }));
  });
}

/**
 * One error handler: coded PinacledErrors keep their code; Fastify's own client errors get
 * ours; anything else is a 500 with a fixed message. Engine messages and stack traces never
 * reach the client (docker-modem errors carry a statusCode Fastify would otherwise pass on).
 */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    // A known path with another method: 405 and the methods the router serves there.
    const allow = methodsFor(app, path);
    if (allow.length === 0) return sendProblem(reply, problemOf('PINACLED_ERR_NOT_FOUND', `No route ${req.method} ${path}`));
    reply.header('allow', allow.join(', '));
    return sendProblem(reply, problemOf('PINACLED_ERR_METHOD_NOT_ALLOWED', `${path} takes ${allow.join(', ')}, not ${req.method}`, undefined, path));
  });
  app.setErrorHandler((err: FastifyError | PinacledError | ZodError | Error, req, reply) => {
    const instance = req.url.split('?')[0];
    if (err instanceof PinacledError) {
      if (err.status >= 500) req.log.warn({ code: err.code, err: err.message, cause: causeMessage(err) }, 'request failed');
      return sendProblem(reply, problemOf(err.code, err.message, err.fields, instance));
    }
    if (err instanceof ZodError) return sendProblem(reply, problemOf('PINACLED_ERR_VALIDATION', 'The request is invalid', zodFields(err), instance));
    const fe = err as FastifyError;
    switch (fe.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendProblem(reply, problemOf('PINACLED_ERR_BODY_TOO_LARGE', 'The request body is too large', undefined, instance));
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return sendProblem(reply, problemOf('PINACLED_ERR_UNSUPPORTED_MEDIA_TYPE', 'Send application/json', undefined, instance));
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
        return sendProblem(reply, problemOf('PINACLED_ERR_VALIDATION', 'The body is not valid JSON', [{ field: '(body)', message: 'is not valid JSON' }], instance));
      default:
        break;
    }
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500 && fe.code?.startsWith('FST_')) {
      return sendProblem(reply, problemOf('PINACLED_ERR_VALIDATION', 'The request is invalid', undefined, instance));
    }
    req.log.error({ err }, 'unhandled error');
    return sendProblem(reply, problemOf('PINACLED_ERR_INTERNAL', 'Internal error; see the daemon log', undefined, instance));
  });
}

function causeMessage(err: Error): string | undefined {
  const c = err.cause as { message?: string; detailForLogs?: string } | undefined;
  return (err as { detailForLogs?: string }).detailForLogs ?? c?.message;
}

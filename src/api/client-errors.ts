import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { problemOf, sendProblem, type Problem } from './problem.js';

/**
 * Errors Node's HTTP parser raises before a request reaches Fastify (request timeout, malformed
 * request line, oversized headers). Fastify's default answer is its own JSON; ours is a
 * problem+json like every other answer, then the connection is closed.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const p: Problem =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? problemOf('PINACLED_ERR_REQUEST_TIMEOUT', 'The whole request (headers and body) must arrive within the request timeout')
      : problemOf('PINACLED_ERR_VALIDATION', 'The request is not valid HTTP');
  const body = JSON.stringify(p);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  // end() flushes the answer before closing; destroy() alone could drop it.
  socket.end(
    `HTTP/1.1 ${p.status} ${p.status === 408 ? 'Request Timeout' : 'Bad Request'}\r\n` +
      'Connection: close\r\nContent-Type: application/problem+json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}

/**
 * Errors Fastify's router raises before routing (a malformed URL component, a path parameter
 * over maxParamLength). Its default answer is its own JSON quoting the path; ours is a 400
 * problem that quotes nothing.
 */
export function frameworkErrorHandler(_err: Error, _req: FastifyRequest, reply: FastifyReply): void {
  void sendProblem(reply, problemOf('PINACLED_ERR_VALIDATION', 'The request path is invalid', [{ field: '(path)', message: 'is not a valid path' }]));
}

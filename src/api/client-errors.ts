import type { Socket } from 'node:net';
import { problemOf, type Problem } from './problem.js';

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

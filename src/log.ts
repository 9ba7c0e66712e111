import pino, { type Logger } from 'pino';

/**
 * JSON logs to stdout. Authorization headers, tokens and pod env values are redacted wherever
 * they appear in a logged object.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'pinacled' },
    redact: {
      paths: ['req.headers.authorization', 'req.headers["sec-websocket-protocol"]', 'token', 'tokens', 'env', '*.env', 'secrets', '*.secrets', 'body.env'],
      censor: '[redacted]',
    },
  });
}

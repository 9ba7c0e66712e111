import pino, { type Logger, type LoggerOptions } from 'pino';

/**
 * JSON logs to stdout. Authorization headers, tokens and pod env values are redacted wherever
 * they appear in a logged object. `destination` lets tests read what would be logged.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const opts: LoggerOptions = {
    level,
    base: { service: 'pinacled' },
    redact: {
      paths: ['req.headers.authorization', 'req.headers["sec-websocket-protocol"]', 'token', 'tokens', 'env', '*.env', 'secrets', '*.secrets', 'body.env'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(opts, destination) : pino(opts);
}

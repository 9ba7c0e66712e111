import type { FastifyBaseLogger } from 'fastify';
import { ZodError, type ZodType } from 'zod';
import type { ExecService } from '../access/exec.js';
import type { ExecStream, ExecStreamEnd } from '../access/exec-stream.js';
import { execStreamControlSchema, execStreamStartSchema } from '../access/schemas.js';
import { PinacledError } from '../errors.js';
import { problemOf, zodFields, type Problem } from './problem.js';
import { type JsonSocket, WS_CLOSE, wsProblemClose } from './websocket.js';

/**
 * The protocol of GET /v1/pods/{id}/exec/stream (openapi.yaml describes it): the client's
 * first message (JSON text) names the command; then binary messages are stdin and text ones
 * control messages (resize, eof); the server sends output as binary messages with a one-byte
 * stream prefix (1 stdout, 2 stderr), then `{type:"exit"}` and close 1000. A problem ends the
 * stream with `{type:"error", code, ...}` and close 4000 + its HTTP status.
 */

/** The client names its command within this long after the handshake. */
export const FIRST_MESSAGE_MS = 10_000;

function invalid(detail: string, message: string): PinacledError {
  return new PinacledError('PINACLED_ERR_VALIDATION', detail, { fields: [{ field: '(message)', message }] });
}

/** A client's JSON text message, checked against `schema` (throws PinacledError or ZodError). */
function parseText<T>(schema: ZodType<T>, data: Buffer): T {
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch {
    throw invalid('The message is not valid JSON', 'is not valid JSON');
  }
  return schema.parse(value);
}

/** The error message of a stream: the problem's fields, with `type` naming the message. */
function errorMessage(p: Problem): Record<string, unknown> {
  const { type: _uri, ...rest } = p;
  return { type: 'error', ...rest };
}

type State = 'waiting' | 'starting' | 'running' | 'done';

class ExecChannel {
  readonly #ch: JsonSocket;
  readonly #exec: ExecService;
  readonly #podId: string;
  readonly #log: FastifyBaseLogger;
  readonly #first: NodeJS.Timeout;
  #state: State = 'waiting';
  #stream: ExecStream | undefined;
  /** Messages that came while the command started (input was paused: at most one socket read). */
  readonly #early: [Buffer, boolean][] = [];
  #eof = false;
  /** stdin is full: input stays paused until it drains. */
  #blocked = false;

  constructor(ch: JsonSocket, o: { exec: ExecService; podId: string; log: FastifyBaseLogger }) {
    this.#ch = ch;
    this.#exec = o.exec;
    this.#podId = o.podId;
    this.#log = o.log;
    this.#first = setTimeout(() => this.#fail(new PinacledError('PINACLED_ERR_REQUEST_TIMEOUT', `Send the command as the first message within ${FIRST_MESSAGE_MS / 1000} s`)), FIRST_MESSAGE_MS);
    ch.onMessage((data, isBinary) => this.#message(data, isBinary));
    ch.onClose(() => {
      clearTimeout(this.#first);
      this.#state = 'done';
      void this.#stream?.stop();
    });
  }

  #message(data: Buffer, isBinary: boolean): void {
    if (this.#state === 'waiting') void this.#start(data, isBinary);
    else if (this.#state === 'starting') this.#early.push([data, isBinary]);
    else if (this.#state === 'running') this.#input(data, isBinary);
  }

  async #start(data: Buffer, isBinary: boolean): Promise<void> {
    clearTimeout(this.#first);
    this.#state = 'starting';
    this.#ch.pauseInput();
    try {
      if (isBinary) throw invalid('The first message must be a JSON text message naming the command', 'must be JSON text');
      const req = parseText(execStreamStartSchema, data);
      this.#stream = await this.#exec.stream(this.#podId, req, { output: (stream, b) => this.#ch.sendBinary(b, stream) });
    } catch (err) {
      return this.#fail(err);
    }
    const s = this.#stream;
    if (this.#ch.closed) return void s.stop();
    this.#state = 'running';
    s.ended.then(
      (e) => this.#end(e),
      (err: unknown) => this.#fail(err),
    );
    for (const [d, b] of this.#early.splice(0)) this.#input(d, b);
    if (this.#state === 'running' && !this.#blocked) this.#ch.resumeInput();
  }

  #input(data: Buffer, isBinary: boolean): void {
    const s = this.#stream!;
    try {
      if (isBinary) {
        if (this.#eof) throw invalid('stdin is closed (eof was sent): no data may follow', 'stdin is closed');
        if (!s.write(data)) {
          this.#blocked = true;
          this.#ch.pauseInput();
          s.onDrain(() => {
            this.#blocked = false;
            this.#ch.resumeInput();
          });
        }
        return;
      }
      const msg = parseText(execStreamControlSchema, data);
      if (msg.type === 'eof') {
        this.#eof = true;
        s.eof();
      } else void s.resize(msg.cols, msg.rows);
    } catch (err) {
      this.#fail(err);
    }
  }

  #end(e: ExecStreamEnd): void {
    if (this.#state === 'done') return;
    if (e.refused) return this.#fail(e.refused);
    this.#state = 'done';
    this.#ch.send({ type: 'exit', exitCode: e.exitCode, timedOut: e.timedOut });
    this.#ch.close(WS_CLOSE.NORMAL, 'exit');
  }

  /** Ends the stream with a problem: the error message, then close 4000 + its status. */
  #fail(err: unknown): void {
    if (this.#state === 'done') return;
    this.#state = 'done';
    let p: Problem;
    if (err instanceof PinacledError) p = problemOf(err.code, err.message, err.fields);
    else if (err instanceof ZodError) p = problemOf('PINACLED_ERR_VALIDATION', 'The message is invalid', zodFields(err));
    else {
      this.#log.error({ err, podId: this.#podId }, 'exec stream failed');
      p = problemOf('PINACLED_ERR_INTERNAL', 'Internal error; see the daemon log');
    }
    if (p.status >= 500) this.#log.warn({ podId: this.#podId, code: p.code, cause: (err as { detailForLogs?: string }).detailForLogs }, 'exec stream failed');
    this.#ch.send(errorMessage(p));
    this.#ch.close(wsProblemClose(p.status), p.code);
  }
}

/** Serves one exec stream on an upgraded socket; the channel owns the command from here on. */
export function serveExecStream(ch: JsonSocket, o: { exec: ExecService; podId: string; log: FastifyBaseLogger }): void {
  new ExecChannel(ch, o);
}

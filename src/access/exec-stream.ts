import { finished } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { PinacledError } from '../errors.js';
import type { Launched } from './launch.js';
import { BoundedOutput } from './output.js';
import { startFailure } from './start-failure.js';

/** Output stream numbers, as the engine multiplexes them: a TTY's one stream is stdout. */
export const STDOUT = 1;
export const STDERR = 2;

export interface ExecStreamSink {
  /** Output as the engine hands it over (the session does not buffer it). */
  output(stream: typeof STDOUT | typeof STDERR, data: Buffer): void;
}

export interface ExecStreamEnd {
  /** The exit status (137 when killed); null: the engine did not say. */
  exitCode: number | null;
  timedOut: boolean;
  /** The engine could not start the command (unknown user, missing directory): a 400. */
  refused?: PinacledError | undefined;
}

/** Output kept from the start of each stream, to recognise an engine's start failure. */
const HEAD_BYTES = 4096;
/** After a kill, the engine stream gets this long to end before it is cut. */
const AFTER_KILL_MS = 5000;

/** Resolves when a stream has ended or was destroyed (either way no more data comes). */
function drained(s: NodeJS.ReadableStream): Promise<void> {
  // A TTY's stdout is the engine socket itself: its readable side is what counts.
  return finished(s, { writable: false }).catch(() => undefined);
}

/**
 * One streaming exec: a wrapped command (launch.ts) whose output goes to a sink as it comes,
 * with stdin, resize, a deadline and an end. Its owner (the client's socket) calls stop() when
 * it goes away: that kills the command and everything it started.
 */
export class ExecStream {
  readonly #l: Launched;
  readonly #log: Logger;
  readonly #deadline: NodeJS.Timeout;
  readonly #tty: boolean;
  #timedOut = false;
  #done = false;
  #stopping: Promise<void> | undefined;
  #cut: NodeJS.Timeout | undefined;
  #resizing: Promise<void> = Promise.resolve();
  /** The end of the command (rejects when the engine cannot say). */
  readonly ended: Promise<ExecStreamEnd>;
  /** stop() was called before the command ended by itself (client gone, deadline, shutdown). */
  stopped = false;

  constructor(l: Launched, o: { deadlineS: number; tty: boolean; sink: ExecStreamSink; log: Logger }) {
    this.#l = l;
    this.#log = o.log;
    this.#tty = o.tty;
    const heads = [new BoundedOutput(HEAD_BYTES), new BoundedOutput(HEAD_BYTES)] as const;
    l.session.stdout.on('data', (b: Buffer) => {
      heads[0].push(b);
      o.sink.output(STDOUT, b);
    });
    l.session.stderr.on('data', (b: Buffer) => {
      heads[1].push(b);
      o.sink.output(STDERR, b);
    });
    this.#deadline = setTimeout(() => {
      this.#timedOut = true;
      void this.stop();
    }, o.deadlineS * 1000);
    this.ended = this.#run(heads);
  }

  async #run(heads: readonly [BoundedOutput, BoundedOutput]): Promise<ExecStreamEnd> {
    const s = this.#l.session;
    try {
      const [exitCode] = await Promise.all([s.wait(), drained(s.stdout), drained(s.stderr)]);
      return { exitCode, timedOut: this.#timedOut, refused: startFailure(exitCode, heads[0].text() + heads[1].text()) };
    } finally {
      this.#done = true;
      clearTimeout(this.#deadline);
      clearTimeout(this.#cut);
      s.close();
    }
  }

  /** Writes stdin; false: wait for onDrain() before writing more. */
  write(data: Buffer): boolean {
    return this.#l.session.stdin?.write(data) ?? true;
  }

  onDrain(fn: () => void): void {
    this.#l.session.stdin?.once('drain', fn);
  }

  /** Closes the command's stdin. */
  eof(): void {
    this.#l.session.stdin?.end();
  }

  /**
   * Sets the PTY's size; without a TTY there is none to set. One engine call at a time, in
   * order: two sent together may be applied by the engine in either order (seen: a start
   * size landing after the client's first resize).
   */
  resize(cols: number, rows: number): Promise<void> {
    if (!this.#tty) return Promise.resolve();
    this.#resizing = this.#resizing.then(async () => {
      if (this.#done) return;
      try {
        await this.#l.session.resize(cols, rows);
      } catch (err) {
        this.#log.warn({ err: (err as Error).message }, 'exec resize failed');
      }
    });
    return this.#resizing;
  }

  /** Kills the command and everything it started (idempotent); resolves once the kill ran. */
  stop(): Promise<void> {
    return (this.#stopping ??= (async () => {
      if (this.#done) return;
      this.stopped = true;
      this.#cut = setTimeout(() => this.#l.session.close(), AFTER_KILL_MS);
      await this.#l.kill();
    })());
  }
}

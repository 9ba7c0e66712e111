import type { Logger } from 'pino';
import type { ContainerRuntime, LogStream } from '../runtime/container-runtime.js';
import { lineKey } from './cut.js';
import { LogParser } from './lines.js';
import type { EndReason, LogLine } from './types.js';

/**
 * Lines the shared stream asks for when it opens. Its first line proves the engine has
 * positioned the stream (see `ready`); a few more cover an engine that positions it late.
 */
export const SHARED_STREAM_TAIL = 100;
/** How long `ready` waits for that first line when the log is empty or the engine is slow. */
export const POSITION_WAIT_MS = 500;
/** After a stop/delete transition, how long the engine gets to end the stream by itself. */
export const FINISH_GRACE_MS = 1000;

export interface LogSubscriber {
  line(l: LogLine): void;
  /** The shared stream ended; called once, and never after close(). */
  end(reason: EndReason): void;
}

export interface LogSubscription {
  /** Key of the last line the stream had delivered when this subscription began (LiveCut's H). */
  readonly lastKeyAtSubscribe: string | null;
  /** Resolves when the engine stream is positioned (first line, POSITION_WAIT_MS, or its end). */
  readonly ready: Promise<void>;
  close(): void;
}

export interface SharedLogStreamDeps {
  runtime: ContainerRuntime;
  maxLineBytes: number;
  log: Logger;
  /** Why the stream ended when the engine ended it and no transition said why. */
  endReason: (podId: string) => EndReason;
  /** Counts engine log streams opened and closed (a gauge). */
  onUpstream?: (delta: 1 | -1) => void;
}

/**
 * One engine follow stream per pod, shared by all of its followers and owned by them: the
 * last follower to leave destroys it. It ends (and ends every follower) when the engine ends
 * it, which the engine does when the container stops, or FINISH_GRACE_MS after a stop or
 * delete transition of the pod, whichever comes first.
 */
export class SharedLogStream {
  readonly podId: string;
  readonly #containerName: string;
  readonly #d: SharedLogStreamDeps;
  readonly #onGone: (stream: SharedLogStream) => void;
  readonly #subs = new Set<LogSubscriber>();
  #upstream: LogStream | undefined;
  #lastKey: string | null = null;
  #ended = false;
  #reason: EndReason | undefined;
  #finishTimer: NodeJS.Timeout | undefined;
  readonly ready: Promise<void>;
  #markReady!: () => void;

  constructor(podId: string, containerName: string, d: SharedLogStreamDeps, onGone: (stream: SharedLogStream) => void) {
    this.podId = podId;
    this.#containerName = containerName;
    this.#d = d;
    this.#onGone = onGone;
    this.ready = new Promise((r) => (this.#markReady = r));
    setTimeout(() => this.#markReady(), POSITION_WAIT_MS).unref();
    void this.#open();
  }

  get ended(): boolean {
    return this.#ended;
  }

  get subscribers(): number {
    return this.#subs.size;
  }

  subscribe(sub: LogSubscriber): LogSubscription {
    // Same tick as the fan-out below: every line is either before lastKeyAtSubscribe or queued.
    const lastKeyAtSubscribe = this.#lastKey;
    this.#subs.add(sub);
    return {
      lastKeyAtSubscribe,
      ready: this.ready,
      close: () => {
        if (!this.#subs.delete(sub)) return;
        if (this.#subs.size === 0 && !this.#ended) this.#finish('complete');
      },
    };
  }

  /** A stop/delete transition: give the engine FINISH_GRACE_MS to end the stream, then end it. */
  finishSoon(reason: EndReason): void {
    if (this.#ended) return;
    this.#reason ??= reason;
    this.#finishTimer ??= setTimeout(() => this.#finish(this.#reason ?? reason), FINISH_GRACE_MS);
    this.#finishTimer.unref();
  }

  /** Ends the stream now (daemon shutdown). */
  finishNow(reason: EndReason): void {
    this.#finish(reason);
  }

  async #open(): Promise<void> {
    let up: LogStream | undefined;
    try {
      up = await this.#d.runtime.openLogs(this.#containerName, { follow: true, tail: SHARED_STREAM_TAIL, timestamps: true, stdout: true, stderr: true });
    } catch (err) {
      this.#d.log.warn({ podId: this.podId, err: (err as { detailForLogs?: string }).detailForLogs ?? (err as Error).message }, 'cannot open the log stream');
      this.#finish('error');
      return;
    }
    if (!up) {
      this.#finish(this.#d.endReason(this.podId));
      return;
    }
    if (this.#ended) {
      // Every follower left (or the daemon closed) while the engine answered.
      up.close();
      return;
    }
    this.#upstream = up;
    this.#d.onUpstream?.(1);
    const parser = new LogParser({
      tty: up.tty,
      maxLineBytes: this.#d.maxLineBytes,
      onLine: (l) => {
        this.#lastKey = lineKey(l);
        this.#markReady();
        for (const s of this.#subs) s.line(l);
      },
      onEngineError: (message) => this.#d.log.warn({ podId: this.podId, message }, 'the engine reported an error in the log stream'),
    });
    up.stream.on('data', (chunk: Buffer) => {
      if (this.#ended) return;
      try {
        parser.write(chunk);
      } catch (err) {
        this.#d.log.warn({ podId: this.podId, err: (err as Error).message }, 'corrupt log stream');
        this.#finish('error');
      }
    });
    up.stream.on('end', () => {
      if (this.#ended) return;
      parser.end();
      this.#finish(this.#reason ?? this.#d.endReason(this.podId));
    });
    up.stream.on('error', (err: Error) => {
      if (this.#ended) return;
      this.#d.log.warn({ podId: this.podId, err: err.message }, 'log stream failed');
      this.#finish(this.#reason ?? 'error');
    });
    up.stream.on('close', () => {
      if (!this.#ended) this.#finish(this.#reason ?? this.#d.endReason(this.podId));
    });
  }

  #finish(reason: EndReason): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#finishTimer) clearTimeout(this.#finishTimer);
    this.#markReady();
    if (this.#upstream) {
      this.#upstream.close();
      this.#upstream = undefined;
      this.#d.onUpstream?.(-1);
    }
    this.#onGone(this);
    const subs = [...this.#subs];
    this.#subs.clear();
    for (const s of subs) s.end(reason);
  }
}

import type { Logger } from 'pino';
import type { ContainerRuntime, LogStream } from '../runtime/container-runtime.js';
import { backlogQuery, LiveCut, matches } from './cut.js';
import type { LogSubscription } from './shared-stream.js';
import type { LogStreamPool } from './stream-pool.js';
import { LogParser } from './lines.js';
import { needsStreamTail, readStreamTail, type StreamTail } from './stream-tail.js';
import { toEngineSeconds } from './time.js';
import type { EndReason, LogLine, LogRequest } from './types.js';

/** Where a session's lines go: a WebSocket or an HTTP response body. */
export interface LogSink {
  send(l: LogLine): void;
  /** The last call; the sink closes itself. */
  end(reason: EndReason): void;
  /** More lines queued for the sink than the limit allows: drop the client. */
  overflow(): void;
  /** The client went away (or was dropped). */
  readonly closed: boolean;
  /** False while the client is behind; the backlog (ours alone) then pauses. */
  hasRoom(): boolean;
  /** Resolves when hasRoom() or closed. */
  waitForRoom(): Promise<void>;
}

export interface LogTarget {
  podId: string;
  containerName: string;
  running: boolean;
}

export interface SessionDeps {
  runtime: ContainerRuntime;
  streams: LogStreamPool;
  maxLineBytes: number;
  /** Bytes of live lines a session may queue while its backlog is sent. */
  maxQueuedBytes: number;
  /** Deadline of a one-shot (backlog) engine stream. */
  backlogDeadlineMs: number;
  log: Logger;
}

/**
 * One client's view of a pod's log: its backlog (a one-shot engine query of its own), then,
 * when following a running pod, the pod's shared live stream with the overlap cut out
 * (cut.ts). open() does everything that can fail with an engine error, so HTTP can still
 * answer 503; run() streams to the sink. close() releases everything and is idempotent.
 */
export class LogSession {
  readonly #d: SessionDeps;
  readonly #t: LogTarget;
  readonly #req: LogRequest;
  readonly #live: boolean;
  #sub: LogSubscription | undefined;
  #backlog: LogStream | undefined;
  /** The backlog of a one-stream tail, read whole in open() (stream-tail.ts). */
  #tailed: StreamTail | undefined;
  readonly #abort = new AbortController();
  #queue: LogLine[] = [];
  #queuedBytes = 0;
  #liveEnd: EndReason | undefined;
  #sink: LogSink | undefined;
  #cut: LiveCut | undefined;
  #closed = false;
  #overflowed = false;
  #resyncLogged = false;
  #resolveRun: (() => void) | undefined;

  constructor(d: SessionDeps, t: LogTarget, req: LogRequest) {
    this.#d = d;
    this.#t = t;
    this.#req = req;
    this.#live = req.follow && req.until === null && t.running;
  }

  async open(): Promise<void> {
    if (this.#live) {
      this.#sub = this.#d.streams.subscribe(this.#t.podId, this.#t.containerName, {
        line: (l) => this.#onLive(l),
        end: (reason) => this.#onLiveEnd(reason),
      });
      await this.#sub.ready;
    }
    const q = this.#live ? backlogQuery(this.#req) : { tail: this.#req.tail, since: this.#req.since };
    try {
      if (needsStreamTail(this.#req)) {
        // since/until are applied to its lines as the engine would, after the tail (matches()).
        this.#tailed = await readStreamTail({
          runtime: this.#d.runtime,
          containerName: this.#t.containerName,
          tail: this.#req.tail,
          stream: this.#req.stream,
          since: this.#req.since,
          maxLineBytes: this.#d.maxLineBytes,
          deadlineMs: this.#d.backlogDeadlineMs,
          signal: this.#abort.signal,
        });
        return;
      }
      this.#backlog = await this.#d.runtime.openLogs(this.#t.containerName, {
        follow: false,
        tail: q.tail,
        since: q.since === null ? undefined : toEngineSeconds(q.since),
        until: !this.#live && this.#req.until !== null ? toEngineSeconds(this.#req.until) : undefined,
        timestamps: true,
        stdout: true,
        stderr: true,
      });
    } catch (err) {
      this.close();
      throw err;
    }
    if (this.#closed) this.#backlog?.close();
  }

  /** Streams to the sink until the session ends; resolves then. */
  async run(sink: LogSink): Promise<void> {
    this.#sink = sink;
    if (this.#overflowed) return sink.overflow();
    const x = await this.#sendBacklog(sink);
    if (this.#overflowed) return sink.overflow();
    if (this.#closed || sink.closed) return this.close();
    if (x === 'failed') {
      this.close();
      return sink.end('error');
    }
    if (!this.#sub) {
      this.close();
      return sink.end(this.#req.follow && this.#req.until === null ? 'not-running' : 'complete');
    }
    this.#cut = new LiveCut(x, this.#sub.lastKeyAtSubscribe);
    const queued = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    for (const l of queued) this.#deliverLive(l);
    if (this.#liveEnd) {
      this.close();
      sink.end(this.#liveEnd);
      return;
    }
    if (this.#closed) return;
    // From here the shared stream calls #onLive/#onLiveEnd directly until the stream or the client ends.
    await new Promise<void>((resolve) => (this.#resolveRun = resolve));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    this.#sub?.close();
    this.#backlog?.close();
    this.#queue = [];
    this.#resolveRun?.();
  }

  /** Returns the backlog's last line (X), null if it had none, or 'failed'. */
  #sendBacklog(sink: LogSink): Promise<LogLine | null | 'failed'> {
    if (this.#tailed) return this.#sendTailed(sink, this.#tailed);
    const up = this.#backlog;
    if (!up) return Promise.resolve(null);
    const deliver = !this.#live || this.#req.tail !== 0;
    let last: LogLine | null = null;
    return new Promise((resolve) => {
      let done = false;
      const finish = (v: LogLine | null | 'failed') => {
        if (done) return;
        done = true;
        clearTimeout(deadline);
        clearInterval(watch);
        up.close();
        resolve(v);
      };
      const deadline = setTimeout(() => {
        this.#d.log.warn({ podId: this.#t.podId }, 'log backlog did not finish within its deadline');
        finish('failed');
      }, this.#d.backlogDeadlineMs);
      // The client can leave while the backlog is paused: notice it.
      const watch = setInterval(() => {
        if (sink.closed || this.#closed) finish(last);
      }, 250);
      const parser = new LogParser({
        tty: up.tty,
        maxLineBytes: this.#d.maxLineBytes,
        onLine: (l) => {
          last = l;
          if (deliver && matches(l, this.#req)) sink.send(l);
        },
      });
      up.stream.on('data', (chunk: Buffer) => {
        if (done) return;
        try {
          parser.write(chunk);
        } catch {
          return finish('failed');
        }
        if (sink.closed) return finish(last);
        if (!sink.hasRoom()) {
          up.stream.pause();
          void sink.waitForRoom().then(() => {
            if (!done) up.stream.resume();
          });
        }
      });
      up.stream.on('end', () => {
        if (done) return;
        parser.end();
        finish(last);
      });
      up.stream.on('error', () => finish('failed'));
      up.stream.on('close', () => finish(done ? last : 'failed'));
    });
  }

  async #sendTailed(sink: LogSink, t: StreamTail): Promise<LogLine | null> {
    for (const l of t.lines) {
      if (sink.closed || this.#closed) break;
      if (matches(l, this.#req)) sink.send(l);
      if (!sink.hasRoom()) await sink.waitForRoom();
    }
    return t.last;
  }

  #onLive(l: LogLine): void {
    if (this.#closed) return;
    if (this.#cut) return this.#deliverLive(l);
    this.#queue.push(l);
    this.#queuedBytes += l.line.length + l.ts.length + 16;
    if (this.#queuedBytes > this.#d.maxQueuedBytes) {
      this.#d.log.info({ podId: this.#t.podId }, 'log follower dropped: live lines piled up behind its backlog');
      this.#overflowed = true;
      this.close();
      this.#sink?.overflow();
    }
  }

  #deliverLive(l: LogLine): void {
    const sink = this.#sink!;
    if (sink.closed) return this.close();
    if (this.#cut!.admit(l) && matches(l, this.#req)) sink.send(l);
    if (this.#cut!.resynced && !this.#resyncLogged) {
      this.#resyncLogged = true;
      this.#d.log.warn({ podId: this.#t.podId }, 'log follower did not find the end of its backlog in the live stream; resynced by time');
    }
  }

  #onLiveEnd(reason: EndReason): void {
    if (this.#closed) return;
    if (!this.#cut) {
      this.#liveEnd = reason;
      return;
    }
    this.close();
    this.#sink?.end(reason);
  }
}

import type { Logger } from 'pino';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { ExecStream, type ExecStreamSink } from './exec-stream.js';
import { launch, targetOf, type AccessPods } from './launch.js';
import type { ExecStreamStart } from './schemas.js';
import { BoundedOutput } from './output.js';
import { startFailure } from './start-failure.js';

export interface ExecRequest {
  command: string[];
  env?: Record<string, string> | undefined;
  workdir?: string | undefined;
  user?: string | undefined;
  stdin?: string | undefined;
  timeoutS?: number | undefined;
}

export interface ExecResult {
  /** The exit status (137 when killed at the deadline); null: the engine did not say. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** Some output was cut (either stream went past the per-stream limit). */
  truncated: boolean;
  timedOut: boolean;
  durationMs: number;
}

export type ExecOutcome = 'ok' | 'nonzero' | 'timeout' | 'cancelled' | 'error';

export interface ExecServiceOptions {
  runtime: ContainerRuntime;
  pods: AccessPods;
  log: Logger;
  /** Bytes kept per output stream of a one-shot exec. */
  maxOutputBytes: number;
  defaultTimeoutS: number;
  /** Every exec that ended, for metrics and the event feed (command name only). */
  onExec?: ((e: { podId: string; podName: string; kind: 'exec' | 'stream' | 'terminal'; command: string; outcome: ExecOutcome; seconds: number }) => void) | undefined;
}

/** After a kill, the engine stream gets this long to end before it is cut. */
const AFTER_KILL_MS = 5000;

/** Name of the program, for metrics-free logs and events: never its arguments. */
export function commandName(command: string[]): string {
  const first = command[0] ?? '';
  return (first.split('/').pop() ?? first).slice(0, 64);
}

export class ExecService {
  readonly #o: ExecServiceOptions;
  /** Streaming execs in progress, stopped (their commands killed) by close(). */
  readonly #streams = new Set<ExecStream>();

  constructor(o: ExecServiceOptions) {
    this.#o = o;
  }

  /** Checks the pod (404, 409) before anything is started. */
  target(podId: string) {
    return targetOf(this.#o.pods.get(podId));
  }

  /** Runs a command to its end (or its deadline, or `signal`: the client went away). */
  async run(podId: string, req: ExecRequest, signal?: AbortSignal): Promise<ExecResult> {
    const t = this.target(podId);
    const started = performance.now();
    const timeoutS = req.timeoutS ?? this.#o.defaultTimeoutS;
    let outcome: ExecOutcome = 'error';
    try {
      const l = await launch(
        this.#o.runtime,
        t,
        { command: req.command, env: req.env, user: req.user, workdir: req.workdir, tty: false, stdin: req.stdin !== undefined, deadlineS: timeoutS },
        this.#o.log,
      );
      const out = new BoundedOutput(this.#o.maxOutputBytes);
      const err = new BoundedOutput(this.#o.maxOutputBytes);
      l.session.stdout.on('data', (b: Buffer) => out.push(b));
      l.session.stderr.on('data', (b: Buffer) => err.push(b));
      if (l.session.stdin) l.session.stdin.end(req.stdin ?? '');
      let timedOut = false;
      let cancelled = false;
      let cut: NodeJS.Timeout | undefined;
      const stop = (why: 'timeout' | 'cancel') => {
        if (why === 'timeout') timedOut = true;
        else cancelled = true;
        void l.kill();
        cut ??= setTimeout(() => l.session.close(), AFTER_KILL_MS);
      };
      const deadline = setTimeout(() => stop('timeout'), timeoutS * 1000);
      const onAbort = () => stop('cancel');
      signal?.addEventListener('abort', onAbort);
      let exitCode: number | null;
      try {
        exitCode = await l.session.wait();
      } finally {
        clearTimeout(deadline);
        clearTimeout(cut);
        signal?.removeEventListener('abort', onAbort);
        l.session.close();
      }
      const r: ExecResult = {
        exitCode,
        stdout: out.text(),
        stderr: err.text(),
        truncated: out.truncated || err.truncated,
        timedOut,
        durationMs: Math.round(performance.now() - started),
      };
      const refused = startFailure(r.exitCode, r.stdout + r.stderr);
      if (refused) throw refused;
      outcome = timedOut ? 'timeout' : cancelled ? 'cancelled' : r.exitCode === 0 ? 'ok' : 'nonzero';
      return r;
    } finally {
      this.#o.onExec?.({ podId: t.podId, podName: t.podName, kind: 'exec', command: commandName(req.command), outcome, seconds: (performance.now() - started) / 1000 });
    }
  }

  /**
   * Starts a streaming exec whose output goes to `sink`. The caller owns the stream: it stops
   * it when its client goes away. Ends (its `ended`) at the command's end or its deadline.
   */
  async stream(podId: string, req: ExecStreamStart, sink: ExecStreamSink): Promise<ExecStream> {
    const t = this.target(podId);
    const started = performance.now();
    const deadlineS = req.timeoutS ?? this.#o.defaultTimeoutS;
    const tty = req.tty ?? false;
    const report = (outcome: ExecOutcome) =>
      this.#o.onExec?.({ podId: t.podId, podName: t.podName, kind: 'stream', command: commandName(req.command), outcome, seconds: (performance.now() - started) / 1000 });
    let s: ExecStream;
    try {
      const l = await launch(this.#o.runtime, t, { command: req.command, env: req.env, user: req.user, workdir: req.workdir, tty, stdin: true, deadlineS }, this.#o.log);
      s = new ExecStream(l, { deadlineS, tty, sink, log: this.#o.log });
    } catch (err) {
      report('error');
      throw err;
    }
    this.#streams.add(s);
    // The engine's API 1.41 cannot size a PTY before the exec starts: right after is the earliest.
    if (req.cols !== undefined && req.rows !== undefined) void s.resize(req.cols, req.rows);
    s.ended.then(
      (e) => report(e.refused ? 'error' : e.timedOut ? 'timeout' : s.stopped ? 'cancelled' : e.exitCode === 0 ? 'ok' : 'nonzero'),
      () => report('error'),
    ).finally(() => this.#streams.delete(s));
    return s;
  }

  /** Kills the commands of every streaming exec still open (daemon shutdown). */
  async close(): Promise<void> {
    await Promise.all([...this.#streams].map((s) => s.stop()));
  }
}

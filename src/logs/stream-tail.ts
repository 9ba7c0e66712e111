import type { ContainerRuntime, LogStream } from '../runtime/container-runtime.js';
import { EngineError, EngineUnavailableError } from '../runtime/errors.js';
import { lineKey, SINCE_MARGIN_S } from './cut.js';
import { LogParser } from './lines.js';
import { normTs, shiftSeconds } from './time.js';
import type { LogLine, LogRequest, StdStream } from './types.js';

/**
 * `tail=N` of one stream. The engine counts `tail` over the combined log and filters by stream
 * afterwards (also when asked for one stream only), so its last N lines may hold none of the
 * stream asked for. So the engine's last T lines of both streams are read for T = N, 4N, 16N,
 * ... until they hold N lines of the stream, or the log has no more, and the last N are kept.
 * Once T would pass TAIL_SCAN_MAX_LINES the next read is the whole log instead: that bounds the
 * reads (at most 9 for tail=5), and the whole log is bounded on disk by its rotation
 * (PINACLED_LOG_MAX_SIZE x PINACLED_LOG_MAX_FILE) and in time by the backlog's deadline.
 * Memory: at most 2N lines of the stream are held at once.
 */
export const TAIL_GROWTH = 4;
export const TAIL_SCAN_MAX_LINES = 100_000;

/** The engine stores a longer line as several entries, and `tail` counts entries. */
const ENGINE_ENTRY_BYTES = 16 * 1024;

/** The requests this module answers: the rest is one engine query (session.ts). */
export function needsStreamTail(req: Pick<LogRequest, 'tail' | 'stream'>): req is { tail: number; stream: StdStream } {
  return typeof req.tail === 'number' && req.tail > 0 && req.stream !== 'both';
}

export interface StreamTailOptions {
  runtime: ContainerRuntime;
  containerName: string;
  tail: number;
  stream: StdStream;
  /** Normalized; the engine applies since after tail, so lines well before it need no reading. */
  since: string | null;
  maxLineBytes: number;
  /** Deadline of all the reads together. */
  deadlineMs: number;
  /** The owner (a LogSession) went away: the read in progress is closed. */
  signal: AbortSignal;
}

export interface StreamTail {
  /** The last `tail` lines of the stream, oldest first. */
  lines: LogLine[];
  /** The last line of the last read, of either stream (LiveCut's X). */
  last: LogLine | null;
  /** Engine reads it took. */
  reads: number;
}

interface Window {
  kept: LogLine[];
  found: number;
  total: number;
  first: LogLine | null;
  last: LogLine | null;
  /** A line may have been several engine entries: `total` undercounts them. */
  split: boolean;
  tty: boolean;
}

/** Undefined when the container does not exist. Engine failures throw coded errors. */
export async function readStreamTail(o: StreamTailOptions): Promise<StreamTail | undefined> {
  const deadline = Date.now() + o.deadlineMs;
  const oldestWanted = o.since === null ? null : shiftSeconds(o.since, -SINCE_MARGIN_S);
  let result: StreamTail | undefined;
  let firstBefore: string | null = null;
  for (let t: number | 'all' = o.tail, reads = 1; ; reads++) {
    const w = await readWindow(o, t, deadline);
    if (!w || o.signal.aborted) return result;
    result = { lines: w.kept.slice(-o.tail), last: w.last, reads };
    if (t === 'all') return result;
    // Fewer lines than asked for: the log has no more, unless long lines were several entries
    // each; then only a larger read that starts at the same line proves it.
    const first = w.first && lineKey(w.first);
    const exhausted = w.total < t && (!w.split || first === firstBefore);
    firstBefore = first;
    const olderUnwanted = oldestWanted !== null && w.first !== null && (normTs(w.first.ts) ?? '') < oldestWanted;
    // A TTY has one stream (reported as stdout): reading further finds no other.
    if (w.found >= o.tail || exhausted || olderUnwanted || w.tty) return result;
    t = t * TAIL_GROWTH > TAIL_SCAN_MAX_LINES ? 'all' : t * TAIL_GROWTH;
  }
}

async function readWindow(o: StreamTailOptions, tail: number | 'all', deadline: number): Promise<Window | undefined> {
  const up = await o.runtime.openLogs(o.containerName, { follow: false, tail, timestamps: true, stdout: true, stderr: true });
  if (!up) return undefined;
  return new Promise<Window>((resolve, reject) => {
    const w: Window = { kept: [], found: 0, total: 0, first: null, last: null, split: false, tty: up.tty };
    const parser = new LogParser({
      tty: up.tty,
      maxLineBytes: o.maxLineBytes,
      onLine: (l) => {
        w.total++;
        w.first ??= l;
        w.last = l;
        if (l.truncated || (l.line.length * 3 >= ENGINE_ENTRY_BYTES - 1 && Buffer.byteLength(l.line) >= ENGINE_ENTRY_BYTES - 1)) w.split = true;
        if (l.stream !== o.stream) return;
        w.found++;
        w.kept.push(l);
        if (w.kept.length >= 2 * o.tail) w.kept.splice(0, w.kept.length - o.tail);
      },
    });
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.signal.removeEventListener('abort', onAbort);
      up.close();
      if (err) reject(err);
      else resolve(w);
    };
    const onAbort = () => finish();
    const timer = setTimeout(() => finish(new EngineUnavailableError(`log tail read of ${o.containerName} passed its deadline`)), Math.max(0, deadline - Date.now()));
    o.signal.addEventListener('abort', onAbort);
    if (o.signal.aborted) return finish();
    drain(up, parser, finish);
  });
}

function drain(up: LogStream, parser: LogParser, finish: (err?: Error) => void): void {
  up.stream.on('data', (chunk: Buffer) => {
    try {
      parser.write(chunk);
    } catch (err) {
      finish(new EngineError(`corrupt log stream: ${(err as Error).message}`, undefined, err));
    }
  });
  up.stream.on('end', () => {
    parser.end();
    finish();
  });
  up.stream.on('error', (err: Error) => finish(new EngineUnavailableError(`log tail read failed: ${err.message}`, err)));
  // Closed before its end: the engine connection broke.
  up.stream.on('close', () => finish(new EngineUnavailableError('log tail read: the engine closed the stream early')));
}

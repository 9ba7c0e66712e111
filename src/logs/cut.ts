import { normTs, shiftSeconds } from './time.js';
import type { LogLine, LogRequest } from './types.js';

/**
 * Joining a shared live stream without a gap or a duplicate.
 *
 * A follower subscribes to the pod's shared live stream (lines queue up), then reads its
 * backlog with its own one-shot query, then drains the queue. The cut cannot be made by
 * timestamps: the engine stamps stdout and stderr in two goroutines, so its log file is not
 * in timestamp order across streams (measured here: 370 inversions in 100,000 alternating
 * lines, up to 18 ms apart). The file is, however, one ordered sequence that both queries
 * read in order, and a line's (timestamp, stream) pair identifies it (nanosecond stamps; no
 * repeat in the same measurement). So, with X the backlog's last line and H the last line the
 * shared stream had delivered when the follower subscribed (recorded in the same tick):
 *
 * - X = H: the shared stream was already past the backlog; every queued line is new.
 * - otherwise X was written after the subscription began and the shared stream has not
 *   reached it yet (it reads the same file in order): queued lines up to and including X are
 *   duplicates, everything after is new.
 *
 * The backlog query always asks for at least one line, so X is known whenever the pod has
 * written anything. A safety valve ends the dropping if lines more than RESYNC_S newer than
 * X arrive without X (the shared stream started past X: an engine restart, or a stream opened
 * after the snapshot); the follower logs that.
 */
export const RESYNC_S = 5;

/** Seconds subtracted from `since` for an unbounded (`tail=all`) backlog query. */
export const SINCE_MARGIN_S = 10;

export const lineKey = (l: LogLine): string => `${l.ts} ${l.stream}`;

/** What a client's filters keep: stream, and `since`/`until` on the line's timestamp. */
export function matches(l: LogLine, q: Pick<LogRequest, 'stream' | 'since' | 'until'>): boolean {
  if (q.stream !== 'both' && l.stream !== q.stream) return false;
  if (q.since === null && q.until === null) return true;
  const t = normTs(l.ts);
  if (t === null) return true;
  return (q.since === null || t >= q.since) && (q.until === null || t <= q.until);
}

/**
 * The engine query behind a follower's backlog. Both streams, always with timestamps; stream
 * and `since` are applied here, as the engine applies them (tail first, then since), so the
 * last line of the answer is the last line of the log when it was read:
 * - tail=N: the engine's last max(N, 1) lines (N=0 still needs X); none delivered for N=0.
 * - tail=all: everything since (since - margin), to not read the whole log for a recent since.
 */
export function backlogQuery(req: Pick<LogRequest, 'tail' | 'since'>): { tail: number | 'all'; since: string | null } {
  if (req.tail === 'all') return { tail: 'all', since: req.since === null ? null : shiftSeconds(req.since, -SINCE_MARGIN_S) };
  return { tail: Math.max(req.tail, 1), since: null };
}

/** Admits queued and live lines after a backlog (see the module comment). */
export class LiveCut {
  readonly #xKey: string | null;
  readonly #resyncAfter: string | null;
  #decided: boolean;
  /** Set when the safety valve fired (X never came). */
  resynced = false;

  constructor(x: LogLine | null, streamLastKey: string | null) {
    this.#xKey = x && lineKey(x);
    const xt = x && normTs(x.ts);
    this.#resyncAfter = xt ? shiftSeconds(xt, RESYNC_S) : null;
    this.#decided = this.#xKey === null || this.#xKey === streamLastKey;
  }

  admit(l: LogLine): boolean {
    if (this.#decided) return true;
    if (lineKey(l) === this.#xKey) {
      this.#decided = true;
      return false;
    }
    const t = normTs(l.ts);
    if (this.#resyncAfter !== null && t !== null && t > this.#resyncAfter) {
      this.#decided = true;
      this.resynced = true;
      return true;
    }
    return false;
  }
}

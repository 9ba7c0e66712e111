/** Domain types of the log feature. Nothing here knows about Docker's wire format. */

export type StdStream = 'stdout' | 'stderr';

/**
 * One line of a pod's output, as the API sends it (`{ ts, stream, line }`). Never changed once
 * made: a pod's followers share it (and sinks.ts serializes it once for all of them).
 */
export interface LogLine {
  /** The engine's timestamp of the line, RFC 3339 with nanoseconds, as the engine wrote it. */
  readonly ts: string;
  readonly stream: StdStream;
  readonly line: string;
  /** Set when the line was longer than the line limit and was cut (the text ends with the marker). */
  readonly truncated?: true;
}

/** Why a log stream ended; sent as the last WebSocket message `{ type: "end", reason }`. */
export type EndReason =
  /** follow=false (or `until` given): every requested line was sent. */
  | 'complete'
  /** follow=true but the pod is not running: the recorded lines were sent. */
  | 'not-running'
  /** The pod's container stopped (stop, exit, kill, OOM) while followed. */
  | 'stopped'
  /** The pod was deleted (or its container removed) while followed. */
  | 'deleted'
  /** The daemon is shutting down. */
  | 'shutdown'
  /** The engine's log stream failed. */
  | 'error';

/** Which lines a client asked for. `since`/`until` are normalized timestamps (see time.ts). */
export interface LogRequest {
  tail: number | 'all';
  since: string | null;
  until: string | null;
  timestamps: boolean;
  stream: StdStream | 'both';
  follow: boolean;
}

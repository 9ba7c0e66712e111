/**
 * How long one request may take, in one place. The server keeps a request's socket open while
 * its handler runs for longer than any operation the API accepts (app.ts), so a long stop is
 * answered instead of cut by the daemon's own idle socket timeout (issue 18, item 7).
 */

/**
 * The longest operation a request may ask for, in seconds: the grace period of
 * stop/restart/delete (`?timeout=`, PINACLED_STOP_TIMEOUT_S) and an exec's `timeoutS`
 * (PINACLED_EXEC_TIMEOUT_S) are capped here.
 */
export const MAX_OPERATION_S = 600;

/**
 * What a request may take beyond that: the engine calls around the wait (stop's own deadline,
 * restart's start, delete's removals), each bounded by PINACLED_ENGINE_TIMEOUT_MS, and a create
 * under load (two minutes seen), which has no wait of its own.
 */
export const OPERATION_MARGIN_S = 180;
/** Engine calls one operation makes at most, for a margin that grows with the engine's deadline. */
export const ENGINE_CALLS_PER_OPERATION = 10;

/** The socket timeout while a request's handler runs: the longest operation plus the margin. */
export function inFlightTimeoutMs(engineTimeoutMs: number): number {
  return MAX_OPERATION_S * 1000 + Math.max(OPERATION_MARGIN_S * 1000, ENGINE_CALLS_PER_OPERATION * engineTimeoutMs);
}

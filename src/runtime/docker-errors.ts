import { EngineError, EngineUnavailableError } from './errors.js';

/** docker-modem errors -> our typed errors (shared by docker-runtime.ts and docker-exec.ts). */

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'EACCES', 'ABORT_ERR']);

/**
 * While dockerd shuts down (or its containerd is gone) its API still answers, with 500s whose
 * text shows its own internals are closed (seen on 20.10: "database not open", "transport is
 * closing", libnetwork's "failed to update store"). That is an unavailable engine (503, retry),
 * not an operation the engine rejected (502).
 */
const ENGINE_GOING_DOWN = /database not open|transport is closing|error while dialing|daemon is shutting down|failed to update store for object type/i;

export interface ModemError {
  statusCode?: number;
  code?: string;
  name?: string;
  message?: string;
  json?: { message?: string } | null;
}

/** Maps a docker-modem error to our typed errors; raw engine errors never leave this file. */
export function mapError(op: string, err: unknown): Error {
  const e = err as ModemError;
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError' || (e?.code && UNREACHABLE.has(e.code))) {
    return new EngineUnavailableError(`container engine unreachable during ${op}: ${e.code ?? e.name}`, err);
  }
  if (e?.statusCode === undefined) {
    return new EngineUnavailableError(`container engine failed during ${op}: ${e?.message ?? String(err)}`, err);
  }
  const msg = e.json?.message ?? e.message ?? 'unknown engine error';
  if (e.statusCode >= 500 && ENGINE_GOING_DOWN.test(msg)) {
    return new EngineUnavailableError(`container engine going down during ${op}: HTTP ${e.statusCode}: ${msg}`, err);
  }
  return new EngineError(`${op}: HTTP ${e.statusCode}: ${msg}`, e.statusCode, err);
}

export function status(err: unknown): number | undefined {
  return (err as ModemError)?.statusCode;
}

import { PinacledError, isPinacledError, type ErrorCode } from '../errors.js';

/** For logs: the engine's own detail where we have it. */
export function errMessage(err: unknown): string {
  const detail = (err as { detailForLogs?: string }).detailForLogs;
  return detail ?? (err instanceof Error ? err.message : String(err));
}

export function codeOf(err: unknown): ErrorCode {
  return isPinacledError(err) ? err.code : 'PINACLED_ERR_INTERNAL';
}

/** The engine answers "unknown runtime" when the sandbox runtime vanished from its config. */
export function mapRuntimeError(err: unknown): unknown {
  if (isPinacledError(err, 'PINACLED_ERR_ENGINE')) {
    const detail = (err as { detailForLogs?: string }).detailForLogs ?? '';
    if (/unknown runtime|runtime .* not found/i.test(detail)) {
      return new PinacledError('PINACLED_ERR_RUNTIME_UNAVAILABLE', 'The sandbox runtime is not registered with the container engine', { cause: err });
    }
  }
  return err;
}

import { PinacledError } from '../errors.js';

/** The engine did not answer (socket refused, missing, or the call's deadline passed). */
export class EngineUnavailableError extends PinacledError {
  /** What went wrong, for the daemon's log; clients get the fixed message. */
  readonly detailForLogs: string;
  constructor(detail: string, cause?: unknown) {
    super('PINACLED_ERR_ENGINE_UNAVAILABLE', 'The container engine is unreachable; retry later', { cause });
    this.detailForLogs = detail;
  }
}

/** The engine answered with an error we do not map to anything more specific. */
export class EngineError extends PinacledError {
  readonly engineStatus: number | undefined;
  /** The engine's own text, for the daemon's log; clients get the fixed message. */
  readonly detailForLogs: string;
  constructor(detail: string, engineStatus: number | undefined, cause?: unknown) {
    super('PINACLED_ERR_ENGINE', 'The container engine rejected the operation', { cause });
    this.engineStatus = engineStatus;
    this.detailForLogs = detail;
  }
}

/** A container or volume name is already in use. */
export class EngineConflictError extends Error {
  override name = 'EngineConflictError';
}

/** The image named in a spec is not present locally (no registry pulls here). */
export class ImageMissingError extends PinacledError {
  constructor(image: string) {
    super('PINACLED_ERR_IMAGE_NOT_FOUND', `Image ${image} is not present on this host; build or load it first`);
  }
}

/** A network's subnet overlaps another network or a host route: try another subnet. */
export class SubnetOverlapError extends Error {
  override name = 'SubnetOverlapError';
}

/**
 * The error with every occurrence of `values` (pod env values: users' API keys) cut out of its
 * engine detail, for errors of calls that carried them (container create). Values shorter than
 * 4 characters are left alone: they are not secrets and cutting them would garble the text.
 * The raw engine error (the cause) is dropped, since its message holds the same text.
 */
export function withoutValues(err: unknown, values: string[]): unknown {
  const secrets = values.filter((v) => v.length >= 4).sort((a, b) => b.length - a.length);
  if (!(err instanceof EngineError || err instanceof EngineUnavailableError)) return err;
  if (!secrets.some((s) => err.detailForLogs.includes(s))) return err;
  const detail = secrets.reduce((text, s) => text.split(s).join('[redacted]'), err.detailForLogs);
  return err instanceof EngineError ? new EngineError(detail, err.engineStatus) : new EngineUnavailableError(detail);
}

/** The container exists but is not running (exec refused). */
export class ContainerNotRunningError extends PinacledError {
  constructor(id: string) {
    super('PINACLED_ERR_POD_NOT_RUNNING', `Container ${id} is not running`);
  }
}

/**
 * Every error a client can see, in one list. Clients and tests match on `code`, never on the
 * message. openapi.yaml documents each code (a contract test checks that both lists agree).
 */
export const ERRORS = {
  PINACLED_ERR_VALIDATION: { status: 400, title: 'The request is invalid' },
  PINACLED_ERR_UNAUTHORIZED: { status: 401, title: 'A valid bearer token is required' },
  PINACLED_ERR_FORBIDDEN: { status: 403, title: 'This token may not use this route' },
  PINACLED_ERR_NOT_FOUND: { status: 404, title: 'No such route' },
  PINACLED_ERR_POD_NOT_FOUND: { status: 404, title: 'No such pod' },
  PINACLED_ERR_METHOD_NOT_ALLOWED: { status: 405, title: 'This path does not take this method' },
  PINACLED_ERR_TIMEOUT: { status: 408, title: 'The pod did not reach the state in time' },
  PINACLED_ERR_REQUEST_TIMEOUT: { status: 408, title: 'The request was not received in time' },
  PINACLED_ERR_NAME_TAKEN: { status: 409, title: 'A pod with this name exists' },
  PINACLED_ERR_INVALID_TRANSITION: { status: 409, title: 'The pod cannot do this in its current state' },
  PINACLED_ERR_POD_BUSY: { status: 409, title: 'Another operation on this pod is in progress' },
  PINACLED_ERR_POD_NOT_RUNNING: { status: 409, title: 'The pod is not running' },
  PINACLED_ERR_IDEMPOTENCY_IN_FLIGHT: { status: 409, title: 'A request with this Idempotency-Key is still in progress' },
  PINACLED_ERR_BODY_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  PINACLED_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'The request body must be application/json' },
  PINACLED_ERR_PLATFORM_UNAVAILABLE: { status: 400, title: 'The requested gVisor platform is not available on this host' },
  PINACLED_ERR_IMAGE_NOT_FOUND: { status: 422, title: 'The image is not present on this host' },
  PINACLED_ERR_IDEMPOTENCY_MISMATCH: { status: 422, title: 'This Idempotency-Key was used with a different request' },
  PINACLED_ERR_UPGRADE_REQUIRED: { status: 426, title: 'This endpoint is a WebSocket: send an upgrade request' },
  PINACLED_ERR_RATE_LIMITED: { status: 429, title: 'Too many requests' },
  PINACLED_ERR_TOO_MANY_STREAMS: { status: 429, title: 'Too many open streams' },
  PINACLED_ERR_INTERNAL: { status: 500, title: 'Internal error' },
  PINACLED_ERR_ENGINE: { status: 502, title: 'The container engine rejected the operation' },
  PINACLED_ERR_ENGINE_UNAVAILABLE: { status: 503, title: 'The container engine is unreachable' },
  PINACLED_ERR_RUNTIME_UNAVAILABLE: { status: 503, title: 'The sandbox runtime is not available' },
  PINACLED_ERR_NETSTACK_UNAVAILABLE: { status: 503, title: "gVisor's own network stack is required but not available" },
  PINACLED_ERR_PORTS_EXHAUSTED: { status: 503, title: 'No free host port is left in the range' },
  PINACLED_ERR_SUBNETS_EXHAUSTED: { status: 503, title: 'No free pod subnet is left in the pool' },
  PINACLED_ERR_FIREWALL_UNAVAILABLE: { status: 503, title: 'The host firewall policy for pods is not in place' },
  PINACLED_ERR_STORE_UNAVAILABLE: { status: 503, title: 'The state store cannot be written' },
  PINACLED_ERR_NOT_READY: { status: 503, title: 'The daemon is not ready yet' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERRORS;

/**
 * `Retry-After` seconds per code, sent by the one problem sender (src/api/problem.ts). Only
 * conditions that clear by themselves, soon, are here: another operation on the pod ending
 * (seconds), the engine coming back (the engine monitor re-probes on its interval), the daemon
 * starting or restarting (systemd restarts it after 2 s). Exhausted ports or subnets, a missing
 * runtime, network stack or firewall policy and an unwritable store wait for an operator or for
 * other pods to go: a fixed delay would only make clients poll, so they get no Retry-After and
 * their answer says what is missing. A 429 computes its own delay (src/api/rate-limit.ts).
 */
export const RETRY_AFTER_S: Partial<Record<ErrorCode, number>> = {
  PINACLED_ERR_POD_BUSY: 1,
  PINACLED_ERR_IDEMPOTENCY_IN_FLIGHT: 1,
  PINACLED_ERR_ENGINE_UNAVAILABLE: 5,
  PINACLED_ERR_NOT_READY: 5,
};

/**
 * Why a pod is not where it was asked to be (`Pod.error.code`) when no operation failed: what
 * the engine reported about its container. Otherwise the error is the failed operation's
 * ErrorCode. openapi.yaml's PodError lists both (a contract test checks it).
 */
export const POD_ERROR_CODES = ['OOM_KILLED', 'SANDBOX_EXITED', 'CONTAINER_ERROR', 'CONTAINER_GONE', 'ROLLBACK_PENDING'] as const;

export type PodErrorCode = (typeof POD_ERROR_CODES)[number] | ErrorCode;

const podErrorCodes = new Set<string>([...POD_ERROR_CODES, ...Object.keys(ERRORS)]);

/** A code read back from the store; one an older or newer daemon wrote reads as internal. */
export function podErrorCode(code: string): PodErrorCode {
  return podErrorCodes.has(code) ? (code as PodErrorCode) : 'PINACLED_ERR_INTERNAL';
}

export interface FieldIssue {
  /** Dotted path of the failing field, e.g. `resources.memoryMb`. */
  field: string;
  message: string;
}

export class PinacledError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly fields: FieldIssue[] | undefined;

  constructor(code: ErrorCode, message?: string, opts: { fields?: FieldIssue[]; cause?: unknown } = {}) {
    super(message ?? ERRORS[code].title, { cause: opts.cause });
    this.name = 'PinacledError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.fields = opts.fields;
  }
}

export function isPinacledError(err: unknown, code?: ErrorCode): err is PinacledError {
  return err instanceof PinacledError && (code === undefined || err.code === code);
}

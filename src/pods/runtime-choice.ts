import { PinacledError } from '../errors.js';

export interface RuntimeChoice {
  runtime: string;
  sandboxed: boolean;
}

/**
 * Fail closed: pods run under the configured sandbox runtime or not at all, unless the operator
 * set PINACLED_ALLOW_UNSANDBOXED (development machines without gVisor), in which case they run
 * under runc and are marked `sandboxed: false`.
 */
export function chooseRuntime(engineRuntimes: readonly string[], configured: string, allowUnsandboxed: boolean): RuntimeChoice {
  if (engineRuntimes.includes(configured)) return { runtime: configured, sandboxed: configured !== 'runc' };
  if (allowUnsandboxed) return { runtime: 'runc', sandboxed: false };
  throw new PinacledError(
    'PINACLED_ERR_RUNTIME_UNAVAILABLE',
    `The container engine has no "${configured}" runtime; register it (./scripts/up does) or set PINACLED_ALLOW_UNSANDBOXED=true on development machines`,
  );
}

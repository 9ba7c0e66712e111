import { PinacledError } from '../errors.js';
import type { EngineInfo } from '../runtime/container-runtime.js';
import type { SandboxPlatform } from './types.js';

export interface RuntimeChoice {
  runtime: string;
  sandboxed: boolean;
}

export interface RuntimeRequest {
  /** The configured sandbox runtime (PINACLED_RUNTIME), e.g. `runsc`. */
  configured: string;
  allowUnsandboxed: boolean;
  /** PINACLED_REQUIRE_NETSTACK: refuse pods whose runtime uses the host's network stack. */
  requireNetstack: boolean;
  /** The platform asked for, and whether the request named it (else it is the template's). */
  platform?: { value: SandboxPlatform; explicit: boolean } | undefined;
}

/**
 * Network stack of a registered runtime, from its registration in the engine: `--network=host`
 * (hostinet: the sandbox's network syscalls reach the host kernel) or gVisor's own (netstack).
 */
export function runtimeNetwork(info: EngineInfo, runtime: string): 'netstack' | 'host' | 'none' | undefined {
  const args = info.runtimeArgs?.[runtime];
  if (!args) return undefined;
  if (args.includes('--network=host')) return 'host';
  if (args.includes('--network=none')) return 'none';
  return 'netstack';
}

/** Platform of a registered runtime from its registration (`--platform=`); 'default': the build's own. */
export function runtimePlatform(info: EngineInfo, runtime: string): string {
  const arg = info.runtimeArgs?.[runtime]?.find((a) => a.startsWith('--platform='));
  return arg ? arg.slice('--platform='.length) : 'default';
}

/**
 * Fail closed: pods run under the configured sandbox runtime or not at all, unless the operator
 * set PINACLED_ALLOW_UNSANDBOXED (development machines without gVisor), in which case they run
 * under runc and are marked `sandboxed: false`.
 *
 * A gVisor platform is its own registered runtime (`runsc-systrap`, `runsc-ptrace`, registered by
 * the host setup beside `runsc`). A template's default platform that this host lacks (the 2022
 * build has no systrap) falls back to the configured runtime's own default; a platform the
 * request names explicitly is honoured or refused, never silently swapped.
 */
export function chooseRuntime(info: EngineInfo, r: RuntimeRequest): RuntimeChoice {
  const engineRuntimes = info.runtimes;
  if (!engineRuntimes.includes(r.configured)) {
    if (r.allowUnsandboxed) return { runtime: 'runc', sandboxed: false };
    throw new PinacledError(
      'PINACLED_ERR_RUNTIME_UNAVAILABLE',
      `The container engine has no "${r.configured}" runtime; register it (./scripts/up does) or set PINACLED_ALLOW_UNSANDBOXED=true on development machines`,
    );
  }
  let runtime = r.configured;
  if (r.platform && r.configured !== 'runc') {
    const named = `${r.configured}-${r.platform.value}`;
    if (engineRuntimes.includes(named)) runtime = named;
    else if (r.platform.explicit) {
      const have = engineRuntimes.filter((n) => n.startsWith(`${r.configured}-`) && /^(systrap|ptrace)$/.test(n.slice(r.configured.length + 1)));
      throw new PinacledError('PINACLED_ERR_PLATFORM_UNAVAILABLE', `This host has no gVisor ${r.platform.value} platform registered (runtime "${named}")`, {
        fields: [{ field: 'sandbox.platform', message: `is not available here; available: ${have.map((n) => n.slice(r.configured.length + 1)).join(', ') || 'the default only'}` }],
      });
    }
  }
  if (r.requireNetstack && runtime !== 'runc' && runtimeNetwork(info, runtime) === 'host') {
    throw new PinacledError(
      'PINACLED_ERR_NETSTACK_UNAVAILABLE',
      `PINACLED_REQUIRE_NETSTACK is set and runtime "${runtime}" uses the host's network stack (--network=host); see /readyz and ./scripts/up's runsc report`,
    );
  }
  return { runtime, sandboxed: runtime !== 'runc' };
}

import type { FastifyInstance } from 'fastify';
import type { EngineMonitor } from '../../pods/engine-monitor.js';
import type { Reconciler } from '../../pods/reconciler.js';
import { runtimeNetwork } from '../../pods/runtime-choice.js';

export interface ReadinessDeps {
  engine: EngineMonitor;
  reconciler: Pick<Reconciler, 'ready'> & { pending?: string | null };
  runtimeName: string;
  allowUnsandboxed: boolean;
  /** PINACLED_REQUIRE_NETSTACK: not ready while the runtime uses the host's network stack. */
  requireNetstack?: boolean;
  /** The host firewall guard (network/firewall.ts); absent when this process does not manage one. */
  firewall?: { readonly status: { ok: boolean; detail: string } } | undefined;
}

export interface Readiness {
  /** One line per check, for people. */
  checks: Record<string, string>;
  /** Whether each check passes (pinacled_ready_check): the runtime check fails while unknown. */
  passed: Record<string, boolean>;
  /** Why the daemon is not ready; empty means ready. */
  reasons: string[];
}

/** Readiness and its reasons. Reads cached state only: no engine call per probe or scrape. */
export function readiness(d: ReadinessDeps): Readiness {
  const h = d.engine.health;
  const reasons: string[] = [];
  const checks: Record<string, string> = {};
  const passed: Record<string, boolean> = { engine: h.reachable };
  checks.engine = h.reachable ? `ok (${h.info?.version ?? '?'})` : `unreachable: ${h.error ?? 'unknown'}`;
  if (!h.reachable) reasons.push(`container engine unreachable: ${h.error ?? 'unknown'}`);
  const hasRuntime = !!h.info?.runtimes.includes(d.runtimeName);
  // The network stack the registration uses: gVisor's own (netstack) or the host's (hostinet).
  const network = h.info && hasRuntime ? runtimeNetwork(h.info, d.runtimeName) : undefined;
  const mode = network === 'host' ? ', network: host (--network=host)' : network ? `, network: ${network}` : '';
  checks.runtime = hasRuntime ? `ok (${d.runtimeName}${mode})` : d.allowUnsandboxed ? `missing (${d.runtimeName}); UNSANDBOXED pods allowed` : `missing (${d.runtimeName})`;
  if (h.info && !hasRuntime && !d.allowUnsandboxed) {
    reasons.push(`sandbox runtime "${d.runtimeName}" is not registered with the container engine`);
  }
  passed.runtime = !!h.info && (hasRuntime || d.allowUnsandboxed);
  if (d.requireNetstack && network === 'host') {
    passed.runtime = false;
    checks.runtime = `host network only (${d.runtimeName}); PINACLED_REQUIRE_NETSTACK is set`;
    reasons.push(`PINACLED_REQUIRE_NETSTACK is set but runtime "${d.runtimeName}" uses the host's network stack`);
  }
  // After an engine outage the reconciler is not ready again until a pass has re-read the engine.
  const pending = d.reconciler.pending ?? 'the first reconcile pass has not finished';
  checks.reconcile = d.reconciler.ready ? 'ok' : pending.startsWith('the first') ? 'first pass pending' : 'pass after engine return pending';
  if (!d.reconciler.ready) reasons.push(pending);
  passed.reconcile = d.reconciler.ready;
  if (d.firewall) {
    const fw = d.firewall.status;
    checks.firewall = fw.detail;
    passed.firewall = fw.ok;
    if (!fw.ok) reasons.push(`the pod firewall policy is not in place: ${fw.detail}`);
  }
  return { checks, passed, reasons };
}

export function healthRoutes(app: FastifyInstance, deps: ReadinessDeps): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const { checks, reasons } = readiness(deps);
    if (reasons.length) reply.code(503);
    return { status: reasons.length ? 'not-ready' : 'ready', checks, reasons };
  });
}

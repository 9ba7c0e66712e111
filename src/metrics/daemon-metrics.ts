import { Gauge, type Registry } from 'prom-client';
import type { BuildInfo } from '../build-info.js';
import type { Readiness } from '../api/routes/health.js';
import type { EngineHealth } from '../pods/engine-monitor.js';
import { runtimeNetwork, runtimePlatform } from '../pods/runtime-choice.js';
import { isGvisor } from '../pods/spec.js';

export interface DaemonMetricsDeps {
  build: BuildInfo;
  runtimeName: string;
  allowUnsandboxed: boolean;
  engine: { readonly health: EngineHealth };
  /** What /readyz answers (cached state only). */
  readiness: () => Readiness;
}

/** How pods run here: under the sandbox runtime, unsandboxed (allowed), not at all, or not known yet. */
export function runtimeMode(d: Pick<DaemonMetricsDeps, 'runtimeName' | 'allowUnsandboxed' | 'engine'>): string {
  const info = d.engine.health.info;
  if (!info) return 'unknown';
  if (info.runtimes.includes(d.runtimeName)) return 'sandboxed';
  return d.allowUnsandboxed ? 'unsandboxed' : 'unavailable';
}

/**
 * The daemon's own state at scrape time, from what it has cached (no engine call): build info
 * and readiness. A gauge per readiness check lets an alert say which one makes creates fail
 * closed (engine, runtime, firewall), which /readyz says in words.
 */
export function registerDaemonMetrics(registry: Registry, d: DaemonMetricsDeps): void {
  new Gauge({
    name: 'pinacled_build_info',
    help: 'Always 1; labels: daemon version and commit, Node.js version, container engine version, sandbox runtime and how pods run (sandboxed, unsandboxed, unavailable, unknown)',
    labelNames: ['version', 'commit', 'node_version', 'engine_version', 'runtime', 'runtime_mode'] as const,
    registers: [registry],
    collect() {
      // One series: the engine's version and the mode change while the daemon runs.
      this.reset();
      this.set(
        {
          version: d.build.version,
          commit: d.build.commit,
          node_version: process.version,
          engine_version: d.engine.health.info?.version ?? 'unknown',
          runtime: d.runtimeName,
          runtime_mode: runtimeMode(d),
        },
        1,
      );
    },
  });
  new Gauge({
    name: 'pinacled_runtime_info',
    help: "Always 1, one series per gVisor runtime registered in the engine: its binary (the host setup's names carry the build, e.g. runsc-netstack-20240729), platform (--platform, or the build's default) and network stack (netstack: gVisor's own; host: the host kernel's)",
    labelNames: ['runtime', 'path', 'platform', 'network'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const info = d.engine.health.info;
      if (!info) return;
      for (const runtime of info.runtimes.filter(isGvisor)) {
        this.set({ runtime, path: info.runtimePaths?.[runtime] ?? runtime, platform: runtimePlatform(info, runtime), network: runtimeNetwork(info, runtime) ?? 'unknown' }, 1);
      }
    },
  });
  new Gauge({
    name: 'pinacled_ready',
    help: '1 when /readyz answers ready (every check passes), else 0',
    registers: [registry],
    collect() {
      this.set(d.readiness().reasons.length === 0 ? 1 : 0);
    },
  });
  new Gauge({
    name: 'pinacled_ready_check',
    help: '1 when the readiness check passes, by check: engine (reachable), runtime (sandbox registered, or unsandboxed allowed), reconcile (a pass finished since the engine was reached), firewall (pod policy in place; where the daemon manages it). engine, runtime or firewall at 0: creates fail closed',
    labelNames: ['check'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [check, ok] of Object.entries(d.readiness().passed)) this.set({ check }, ok ? 1 : 0);
    },
  });
}

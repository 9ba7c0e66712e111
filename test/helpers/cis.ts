import { execFileSync } from 'node:child_process';
import { POD_CAPABILITIES } from '../../src/pods/spec.js';

/**
 * CIS Docker Benchmark (section 5, container runtime) checks on `docker inspect` output, for
 * containers pinacled created. Each check names its CIS item. Returns the violations.
 */
export interface Inspect {
  Id: string;
  Name: string;
  Config: { Labels: Record<string, string> | null; User: string };
  HostConfig: Record<string, any>;
  Mounts: { Type: string; Source: string; Destination: string }[];
}

const SENSITIVE = ['/', '/boot', '/dev', '/etc', '/lib', '/proc', '/sys', '/usr', '/var', '/run', '/var/run', '/root', '/home'];

export function cisViolations(c: Inspect, opts: { publishHosts?: string[] } = {}): string[] {
  const h = c.HostConfig;
  const v: string[] = [];
  const name = c.Name.replace(/^\//, '');
  const bad = (item: string, what: string) => v.push(`${name}: CIS ${item}: ${what}`);
  if (h.Privileged) bad('5.4', 'privileged');
  const capAdd: string[] = h.CapAdd ?? [];
  const capDrop: string[] = h.CapDrop ?? [];
  if (!capDrop.includes('ALL')) bad('5.3', `CapDrop is ${JSON.stringify(capDrop)}, not ALL`);
  const allowed = new Set<string>(POD_CAPABILITIES);
  for (const cap of capAdd) if (!allowed.has(cap.replace(/^CAP_/, ''))) bad('5.3', `capability ${cap} added`);
  for (const m of c.Mounts ?? []) {
    if (m.Type !== 'volume') bad('5.5', `${m.Type} mount of ${m.Source} at ${m.Destination}`);
    if (SENSITIVE.includes(m.Source) || m.Source.startsWith('/var/run/docker') || m.Source.includes('docker.sock')) bad('5.5/5.31', `sensitive host path ${m.Source} mounted`);
    if (m.Destination.includes('docker.sock')) bad('5.31', 'docker.sock mounted');
  }
  for (const b of h.Binds ?? []) bad('5.5', `bind ${b}`);
  if (h.NetworkMode === 'host') bad('5.9', 'host network namespace');
  if (h.PidMode === 'host') bad('5.15', 'host pid namespace');
  if (h.IpcMode === 'host') bad('5.16', 'host ipc namespace');
  if (h.UTSMode === 'host') bad('5.20', 'host uts namespace');
  if (h.UsernsMode === 'host') bad('5.30', 'host user namespace');
  if ((h.Devices ?? []).length) bad('5.17', `devices ${JSON.stringify(h.Devices)}`);
  if (!(h.Memory > 0)) bad('5.10', 'no memory limit');
  if (h.MemorySwap !== h.Memory) bad('5.10', `swap ${h.MemorySwap} on top of memory ${h.Memory}`);
  if (!(h.NanoCpus > 0 || h.CpuQuota > 0 || h.CpuShares > 0)) bad('5.11', 'no CPU limit');
  if (!(h.PidsLimit > 0)) bad('5.28', 'no pids limit');
  if (!(h.SecurityOpt ?? []).some((o: string) => /^no-new-privileges(:true|=true)?$/.test(o))) bad('5.25', 'no-new-privileges not set');
  if ((h.SecurityOpt ?? []).some((o: string) => /unconfined/.test(o))) bad('5.21', `unconfined profile ${JSON.stringify(h.SecurityOpt)}`);
  if (h.OomKillDisable) bad('5.10', 'OOM killer disabled');
  if (h.PublishAllPorts) bad('5.13', 'PublishAllPorts');
  for (const [port, bindings] of Object.entries((h.PortBindings ?? {}) as Record<string, { HostIp: string }[]>)) {
    for (const b of bindings ?? []) {
      if (!b.HostIp || b.HostIp === '0.0.0.0' || b.HostIp === '::') bad('5.13', `${port} published on all interfaces`);
      else if (opts.publishHosts && !opts.publishHosts.includes(b.HostIp)) bad('5.13', `${port} published on ${b.HostIp}`);
    }
  }
  if (h.RestartPolicy?.Name === 'always' || (h.RestartPolicy?.Name === 'on-failure' && h.RestartPolicy.MaximumRetryCount > 5)) bad('5.14', 'unbounded restart policy');
  if (!(h.Ulimits ?? []).some((u: { Name: string }) => u.Name === 'nofile')) bad('(ulimit)', 'no nofile ulimit');
  if (h.LogConfig?.Type !== 'json-file' || !h.LogConfig?.Config?.['max-size']) bad('(logs)', 'log size not capped');
  if (h.CgroupParent) bad('5.24', `cgroup parent ${h.CgroupParent}`);
  return v;
}

/** `docker inspect` of the ids; ids removed meanwhile (other suites clean up too) are skipped. */
export function inspectContainers(ids: string[]): Inspect[] {
  if (!ids.length) return [];
  let out: string;
  try {
    out = execFileSync('docker', ['inspect', ...ids], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? '[]');
  }
  return JSON.parse(out || '[]') as Inspect[];
}

/** Every container (running or not) with pinacled's ownership label on this engine. */
export function managedContainerIds(): string[] {
  const out = execFileSync('docker', ['ps', '-aq', '--no-trunc', '--filter', 'label=dev.pinacle.managed=true'], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}

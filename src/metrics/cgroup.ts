import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Reads a container's resource usage straight from its cgroup files: no engine call, a few
 * file reads per pod. Under runsc the sandbox and gofer processes live in the container's own
 * cgroup (HOST-NOTES), so these totals are the pod's real cost, sandbox overhead included.
 */

export type CgroupVersion = 1 | 2;

export interface CgroupReading {
  /** CPU time used since the container started (all processes of the cgroup). */
  cpuUsageNs: number;
  /** Time the cgroup was throttled by its CPU quota; null where the kernel does not say. */
  cpuThrottledNs: number | null;
  /** The CPU quota in cores (quota / period); null when unlimited. */
  cpuLimitCores: number | null;
  memoryUsageBytes: number;
  /** Usage minus inactive file cache, as cAdvisor and the kubelet compute it. */
  memoryWorkingSetBytes: number;
  /** null when unlimited. */
  memoryLimitBytes: number | null;
  pids: number | null;
  /** null when unlimited. */
  pidsLimit: number | null;
  /** Processes the kernel's OOM killer killed in this cgroup. */
  oomKills: number | null;
}

/** Where one container's cgroup lives, per version. */
export type CgroupPaths = { version: 1; dirs: Map<string, string> } | { version: 2; dir: string };

/** v2 when the root is the unified hierarchy itself; hybrid hosts (v1 controllers + unified/) are v1. */
export function detectCgroupVersion(root = '/sys/fs/cgroup'): CgroupVersion {
  return existsSync(join(root, 'cgroup.controllers')) ? 2 : 1;
}

/**
 * Resolves a container's cgroup directories from its init process's /proc/<pid>/cgroup, which
 * works for both drivers (cgroupfs: /docker/<id>, systemd: docker-<id>.scope) and versions.
 * Returns undefined when the path does not name the container: the pid is not the container's
 * (a remote engine, a reused pid), and the caller must not read someone else's cgroup.
 */
export function resolveCgroupPaths(procCgroup: string, containerId: string, version: CgroupVersion, root: string): CgroupPaths | undefined {
  const dirs = new Map<string, string>();
  let unified: string | undefined;
  for (const line of procCgroup.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, hid, controllers, path] = m as unknown as [string, string, string, string];
    if (hid === '0' && controllers === '') {
      unified = path;
      continue;
    }
    for (const c of controllers.split(',')) {
      // Separate mounts (/sys/fs/cgroup/cpu) or a joint one (/sys/fs/cgroup/cpu,cpuacct).
      const single = join(root, c, path);
      dirs.set(c, existsSync(single) ? single : join(root, controllers, path));
    }
  }
  if (version === 2) {
    if (unified === undefined || !unified.includes(containerId)) return undefined;
    return { version: 2, dir: join(root, unified) };
  }
  const mem = dirs.get('memory');
  if (!mem?.includes(containerId)) return undefined;
  return { version: 1, dirs };
}

/** `key value` lines (memory.stat, cpu.stat, memory.events, memory.oom_control). */
export function parseKeyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

/** A limit file's value: "max" (v2) or v1's page-rounded "no limit" number are null. */
export function parseLimit(text: string): number | null {
  const t = text.trim();
  if (t === 'max' || t === '' || t === '-1') return null;
  const n = Number(t);
  // v1 writes LONG_MAX rounded down to a page for "unlimited".
  return Number.isFinite(n) && n < 2 ** 62 ? n : null;
}

const read = (path: string): string => readFileSync(path, 'utf8');

function optional<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** One reading of the container's cgroup. Throws (ENOENT) when the cgroup is gone. */
export function readCgroup(p: CgroupPaths): CgroupReading {
  return p.version === 1 ? readV1(p.dirs) : readV2(p.dir);
}

function readV1(dirs: Map<string, string>): CgroupReading {
  const dir = (c: string): string => {
    const d = dirs.get(c);
    if (!d) throw Object.assign(new Error(`cgroup v1 controller ${c} not mounted`), { code: 'ENOENT' });
    return d;
  };
  const memStat = parseKeyValues(read(join(dir('memory'), 'memory.stat')));
  const usage = Number(read(join(dir('memory'), 'memory.usage_in_bytes')).trim());
  // total_* covers child cgroups too (use_hierarchy), which is what usage_in_bytes counts.
  const inactiveFile = memStat.get('total_inactive_file') ?? memStat.get('inactive_file') ?? 0;
  const cpuStat = optional(() => parseKeyValues(read(join(dir('cpu'), 'cpu.stat'))));
  const quota = optional(() => Number(read(join(dir('cpu'), 'cpu.cfs_quota_us')).trim()));
  const period = optional(() => Number(read(join(dir('cpu'), 'cpu.cfs_period_us')).trim()));
  const oom = optional(() => parseKeyValues(read(join(dir('memory'), 'memory.oom_control'))));
  return {
    cpuUsageNs: Number(read(join(dir('cpuacct'), 'cpuacct.usage')).trim()),
    cpuThrottledNs: cpuStat?.get('throttled_time') ?? null,
    cpuLimitCores: quota !== null && period && quota > 0 ? quota / period : null,
    memoryUsageBytes: usage,
    memoryWorkingSetBytes: Math.max(0, usage - inactiveFile),
    memoryLimitBytes: parseLimit(read(join(dir('memory'), 'memory.limit_in_bytes'))),
    pids: optional(() => Number(read(join(dir('pids'), 'pids.current')).trim())),
    pidsLimit: optional(() => parseLimit(read(join(dir('pids'), 'pids.max')))),
    // oom_kill appeared in memory.oom_control with Linux 4.13.
    oomKills: oom?.get('oom_kill') ?? null,
  };
}

function readV2(dir: string): CgroupReading {
  const cpuStat = parseKeyValues(read(join(dir, 'cpu.stat')));
  const memStat = parseKeyValues(read(join(dir, 'memory.stat')));
  const usage = Number(read(join(dir, 'memory.current')).trim());
  const cpuMax = optional(() => read(join(dir, 'cpu.max')).trim().split(/\s+/));
  const quota = cpuMax?.[0];
  const period = Number(cpuMax?.[1] ?? 100000);
  const events = optional(() => parseKeyValues(read(join(dir, 'memory.events'))));
  const throttledUs = cpuStat.get('throttled_usec');
  return {
    cpuUsageNs: (cpuStat.get('usage_usec') ?? 0) * 1000,
    cpuThrottledNs: throttledUs === undefined ? null : throttledUs * 1000,
    cpuLimitCores: quota && quota !== 'max' && period > 0 ? Number(quota) / period : null,
    memoryUsageBytes: usage,
    memoryWorkingSetBytes: Math.max(0, usage - (memStat.get('inactive_file') ?? 0)),
    memoryLimitBytes: parseLimit(read(join(dir, 'memory.max'))),
    pids: optional(() => Number(read(join(dir, 'pids.current')).trim())),
    pidsLimit: optional(() => parseLimit(read(join(dir, 'pids.max')))),
    oomKills: events?.get('oom_kill') ?? null,
  };
}

import { readFileSync } from 'node:fs';

/**
 * Facts of this host that bound what a pod may ask for, read once with the configuration. The
 * engine is local (one daemon per host), so its process limits are readable in /proc.
 */

/** The hard limit of a row of /proc/<pid>/limits ("Max open files  1024  20000  files"). */
export function hardLimit(limits: string, row: string): number | undefined {
  const line = limits.split('\n').find((l) => l.startsWith(row));
  const hard = line?.slice(row.length).trim().split(/\s+/)[1];
  if (hard === undefined) return undefined;
  return hard === 'unlimited' ? Number.POSITIVE_INFINITY : Number(hard) || undefined;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** kernel.pid_max; Linux's 64-bit default where unreadable. */
export function hostPidMax(): number {
  return Number(read('/proc/sys/kernel/pid_max')?.trim()) || 4_194_304;
}

/**
 * The hard open-files limit of the engine's process (dockerd; containerd and runc inherit it
 * when dockerd starts them). runc cannot raise a container's limit above it without
 * CAP_SYS_RESOURCE (seen on this project's hosts: dockerd at 20000, and `--ulimit nofile=65536`
 * fails with "error setting rlimit type 7: operation not permitted"). Undefined when the pid
 * file or the process cannot be read (then nothing is clamped).
 */
export function engineNofileHard(pidFile: string): number | undefined {
  const pid = read(pidFile)?.trim();
  if (!pid || !/^\d+$/.test(pid)) return undefined;
  const limits = read(`/proc/${pid}/limits`);
  return limits === undefined ? undefined : hardLimit(limits, 'Max open files');
}

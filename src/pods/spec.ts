import type { ContainerSpec } from '../runtime/container-runtime.js';
import { LABEL } from './labels.js';
import type { Pod } from './types.js';

/**
 * Host pids per user-visible process under runsc, and the sandbox's own baseline. Docker's
 * PidsLimit counts host pids and kills the *whole* sandbox when reached, so a 1:1 mapping would
 * kill idle pods. Measured on 2026-12-02 with 50 guest `sleep`s (host pids in the pids cgroup):
 *   2022 build, ptrace: idle 38, ~9.4 per process; 2024 build, ptrace: idle 33, ~8.8;
 *   2024 build, systrap: idle 27, ~2.3.
 * One mapping for every runsc registration (runsc, runsc-systrap, runsc-ptrace and the
 * fallbacks), sized for the costliest platform: SANDBOX_BASE_PIDS + pidsLimit *
 * HOST_PIDS_PER_PROCESS. It is a hard, finite backstop that protects the host; the limit users
 * meet is the in-pod one below, so a systrap pod does not get 4x the processes it asked for.
 * Under runc (unsandboxed, opt-in) processes are host processes and the mapping is 1:1.
 */
export const SANDBOX_BASE_PIDS = 64;
export const HOST_PIDS_PER_PROCESS = 10;

/** Every name the host setup registers for gVisor starts with `runsc` (scripts/lib/runsc.sh). */
export function isGvisor(runtime: string): boolean {
  return runtime === 'runsc' || runtime.startsWith('runsc-');
}

/**
 * The most processes a pod may ask for. Its host cap under runsc, 64 + 10 x 4096 = 41,024 host
 * pids, is then a bounded share of a host; `maxHostPids` bounds it further on the host at hand.
 */
export const MAX_PIDS_LIMIT = 4096;

/**
 * The host pids cap of a pod, never above `maxHostPids` (PINACLED_POD_MAX_HOST_PIDS, by default
 * a quarter of the host's kernel.pid_max: on a host with pid_max 32768 one pod could otherwise
 * take every pid the host has). Clamped, a pod meets the in-pod limit below as before; only a
 * pod spreading over many users meets the lower backstop sooner.
 */
export function hostPidsLimit(runtime: string, pidsLimit: number, maxHostPids = Number.MAX_SAFE_INTEGER): number {
  return Math.min(isGvisor(runtime) ? SANDBOX_BASE_PIDS + pidsLimit * HOST_PIDS_PER_PROCESS : pidsLimit, maxHostPids);
}

/**
 * The limit users actually meet under runsc: RLIMIT_NPROC = pidsLimit. gVisor enforces it
 * inside the sandbox (per user, threads included; measured: a fork bomb stops at the limit
 * with EAGAIN and the pod keeps running), so the host cap above is only a backstop that a pod
 * reaches by spreading processes over many users. Under runc, PidsLimit already fails forks
 * with EAGAIN, and Linux would not apply RLIMIT_NPROC to root, so none is set.
 */
export function inPodProcessLimit(runtime: string, pidsLimit: number): number | undefined {
  return isGvisor(runtime) ? pidsLimit : undefined;
}

/**
 * Capabilities a development environment needs (file ownership for package managers and git,
 * signalling its own processes, binding ports < 1024). Everything else is dropped: NET_RAW
 * (spoofing, ARP/ICMP tricks), SYS_ADMIN, SYS_PTRACE, MKNOD, AUDIT_WRITE, SYS_CHROOT, SETFCAP,
 * NET_ADMIN and the rest.
 *
 * SETUID and SETGID are dropped too: the in-pod process limit (RLIMIT_NPROC) counts per user, so
 * a root process that may change uid spreads its processes over many users and reaches the host
 * backstop instead (the sandbox dies). Nothing a pod runs needs them: the images start as their
 * USER, and exec's `user` is set by the engine, not by a process in the pod. An image that
 * switches users itself (su, gosu, an sshd) does not work in a pod; that is the price.
 */
export const POD_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'NET_BIND_SERVICE'] as const;

export const WORKSPACE_PATH = '/workspace';
export const NOFILE_LIMIT = 65536;
export const SHM_BYTES = 64 * 1024 * 1024;

export interface SpecOptions {
  logMaxSize: string;
  logMaxFile: number;
  /** Per-pod network name, or null for the engine's default bridge. */
  network?: string | null;
  /** Ceiling of any pod's host pids cap (see hostPidsLimit). */
  maxHostPids?: number;
  /** The engine's hard open-files limit (see podNofile). */
  maxNofile?: number | undefined;
}

/**
 * A pod's open-files limit. Under runc the container's processes are host processes and runc
 * cannot set a limit above the engine's own hard limit (the create fails), so it is clamped
 * there; gVisor keeps the limit inside the sandbox and sets any value.
 */
export function podNofile(runtime: string, maxNofile: number | undefined): number {
  return isGvisor(runtime) || maxNofile === undefined ? NOFILE_LIMIT : Math.min(NOFILE_LIMIT, maxNofile);
}

/** Pod -> ContainerSpec. Pure: limits, labels, hardening and runtime are unit-tested here. */
export function buildContainerSpec(pod: Pod, o: SpecOptions): ContainerSpec {
  const memoryBytes = pod.resources.memoryMb * 1024 * 1024;
  const nproc = inPodProcessLimit(pod.runtime, pod.resources.pidsLimit);
  const labels: Record<string, string> = {
    [LABEL.MANAGED]: 'true',
    [LABEL.POD_ID]: pod.id,
    [LABEL.POD_NAME]: pod.name,
    [LABEL.TEMPLATE]: pod.template,
  };
  for (const [k, v] of Object.entries(pod.labels)) labels[`${LABEL.USER_PREFIX}${k}`] = v;
  return {
    name: pod.containerName,
    image: pod.image,
    command: pod.command,
    env: { ...pod.env, PINACLE_POD_ID: pod.id, PINACLE_POD_NAME: pod.name },
    labels,
    hostname: pod.name,
    runtime: pod.runtime,
    user: null,
    workingDir: null,
    limits: {
      nanoCpus: Math.round(pod.resources.cpuCores * 1e9),
      memoryBytes,
      // Swap equal to memory means no swap on top of the limit.
      memorySwapBytes: memoryBytes,
      pidsLimit: hostPidsLimit(pod.runtime, pod.resources.pidsLimit, o.maxHostPids),
      nofile: podNofile(pod.runtime, o.maxNofile),
      ...(nproc === undefined ? {} : { nproc }),
    },
    ports: pod.ports.map((p) => ({ containerPort: p.containerPort, hostPort: p.hostPort, hostIp: p.hostIp })),
    volumes: [{ volume: pod.volumeName, target: WORKSPACE_PATH }],
    security: {
      capDrop: ['ALL'],
      capAdd: [...POD_CAPABILITIES],
      noNewPrivileges: true,
      readonlyRootfs: false,
    },
    network: o.network ?? null,
    log: { maxSize: o.logMaxSize, maxFile: o.logMaxFile },
    shmSizeBytes: SHM_BYTES,
  };
}

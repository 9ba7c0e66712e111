import type { Logger } from 'pino';
import { PinacledError } from '../errors.js';
import type { Pod } from '../pods/types.js';
import type { ContainerRuntime, ExecSession } from '../runtime/container-runtime.js';
import { killScript, wrap } from './wrapper.js';

/** What access/ needs from the pod service. */
export interface AccessPods {
  /** Throws PINACLED_ERR_POD_NOT_FOUND. */
  get(id: string): Pod;
}

/** A pod that can run commands: its container, and who runs them where by default. */
export interface ExecTarget {
  podId: string;
  podName: string;
  container: string;
  user: string | null;
  workdir: string | null;
}

/**
 * Default user and directory of commands in a pod. pinacled's images (base, nextjs, mastra)
 * have the `dev` user and /workspace; a custom image keeps its own USER and WORKDIR (the
 * busybox test image has only root).
 */
export function targetOf(pod: Pod): ExecTarget {
  if (pod.state !== 'running') throw new PinacledError('PINACLED_ERR_POD_NOT_RUNNING', `Pod ${pod.id} is ${pod.state}, not running`);
  const ours = pod.template !== 'custom';
  return { podId: pod.id, podName: pod.name, container: pod.containerName, user: ours ? 'dev' : null, workdir: ours ? '/workspace' : null };
}

export interface LaunchOptions {
  command: string[];
  env?: Record<string, string> | undefined;
  user?: string | undefined;
  workdir?: string | undefined;
  tty: boolean;
  stdin: boolean;
  /** In-pod deadline (the wrapper's watchdog adds a few seconds to it). */
  deadlineS: number;
}

/** A wrapped command running in a pod; kill() ends everything it started. */
export interface Launched {
  session: ExecSession;
  user: string | null;
  kill(): Promise<void>;
}

/**
 * Starts `command` in the pod under the wrapper (wrapper.ts). Engine errors pass through typed
 * (503, 409 for a container that stopped meanwhile); a container gone is the pod's 409.
 */
export async function launch(runtime: ContainerRuntime, t: ExecTarget, o: LaunchOptions, log: Logger): Promise<Launched> {
  const w = wrap(o.command, { deadlineS: o.deadlineS, tty: o.tty });
  const user = o.user ?? t.user;
  const workdir = o.workdir ?? t.workdir;
  const session = await runtime.exec(t.container, { cmd: w.cmd, env: o.env, user, workdir, tty: o.tty, stdin: o.stdin });
  if (!session) throw new PinacledError('PINACLED_ERR_POD_NOT_RUNNING', `Pod ${t.podId} has no running container`);
  let killing: Promise<void> | undefined;
  const kill = () =>
    (killing ??= (async () => {
      try {
        const k = await runtime.exec(t.container, { cmd: killScript(w.pidFile), user, tty: false, stdin: false });
        if (!k) return;
        k.stdout.resume();
        k.stderr.resume();
        await k.wait();
      } catch (err) {
        // The in-pod watchdog still ends it at its deadline.
        log.warn({ podId: t.podId, err: (err as Error).message }, 'could not kill an exec; its watchdog ends it at the deadline');
      }
    })());
  return { session, user, kill };
}

/**
 * Per-pod last-activity time, kept in memory: what a person or the control plane did with the pod
 * through pinacled (exec, terminals, files, the proxy, keepalive). Idle auto-stop reads it; the
 * features that carry traffic touch it. Restarting the daemon resets it to "active now" for every
 * pod (a restart is not a reason to stop anyone's pod early).
 */
export type ActivityKind = 'exec' | 'terminal' | 'files' | 'proxy' | 'keepalive';

export class PodActivity {
  readonly #last = new Map<string, { at: number; kind: ActivityKind }>();
  readonly #now: () => number;
  readonly #started: number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#started = now();
  }

  touch(podId: string, kind: ActivityKind): void {
    this.#last.set(podId, { at: this.#now(), kind });
  }

  /** Epoch ms of the pod's last activity, or the daemon's start when nothing happened since. */
  lastAt(podId: string): number {
    return this.#last.get(podId)?.at ?? this.#started;
  }

  /** The kind of the pod's last activity (undefined: none since the daemon started). */
  lastKind(podId: string): ActivityKind | undefined {
    return this.#last.get(podId)?.kind;
  }

  forget(podId: string): void {
    this.#last.delete(podId);
  }
}

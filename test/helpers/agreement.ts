import { LABEL } from '../../src/pods/labels.js';
import { STORE_ID_LABEL } from '../../src/pods/labels.js';
import { DockerRuntime } from '../../src/runtime/docker-runtime.js';

export interface PodLike {
  id: string;
  name: string;
  state: string;
  error: { code: string } | null;
}

export interface Disagreement {
  /** Containers carrying the store's id whose pod the API does not list. */
  orphanContainers: string[];
  orphanVolumes: string[];
  /** Per-pod networks of the store without a pod. */
  orphanNetworks: string[];
  /** Pods in creating/starting/stopping/deleting. */
  transitional: string[];
  /** Pods whose state is not what the engine shows. */
  mismatched: string[];
}

export const TRANSITIONAL_STATES = new Set(['creating', 'starting', 'stopping', 'deleting']);

/** The engine through the project's own seam (a test reads it; nothing is changed). */
export function engineView(dockerHost?: string): DockerRuntime {
  return new DockerRuntime({ dockerHost, timeoutMs: 15_000 });
}

/**
 * Compares a daemon's pods (as its API lists them) with what the engine holds for its store:
 * every labelled object has a pod, no pod is transitional, and each pod's state is the engine's
 * (running <-> container running; stopped -> container exists, not running; failed -> not
 * running or gone).
 */
export async function disagreement(engine: DockerRuntime, storeId: string, pods: PodLike[]): Promise<Disagreement> {
  const filter = `${STORE_ID_LABEL}=${storeId}`;
  const [containers, volumes, networks] = await Promise.all([engine.listContainers(filter), engine.listVolumes(filter), engine.listNetworks(filter)]);
  const ids = new Set(pods.map((p) => p.id));
  const byPod = new Map(containers.map((c) => [c.labels[LABEL.POD_ID] ?? '', c]));
  const out: Disagreement = {
    orphanContainers: containers.filter((c) => !ids.has(c.labels[LABEL.POD_ID] ?? '')).map((c) => c.name),
    orphanVolumes: volumes.filter((v) => !ids.has(v.labels[LABEL.POD_ID] ?? '')).map((v) => v.name),
    orphanNetworks: networks.filter((n) => !ids.has(n.labels[LABEL.POD_ID] ?? '')).map((n) => n.name),
    transitional: pods.filter((p) => TRANSITIONAL_STATES.has(p.state)).map((p) => `${p.name}:${p.state}`),
    mismatched: [],
  };
  for (const p of pods) {
    const c = byPod.get(p.id);
    const running = c?.status === 'running';
    const ok =
      p.state === 'running' ? running : p.state === 'stopped' ? !!c && !running : p.state === 'failed' ? !running : true;
    if (!ok) out.mismatched.push(`${p.name}: pod ${p.state}, engine ${c?.status ?? 'no container'}`);
  }
  return out;
}

export function isClean(d: Disagreement): boolean {
  return !d.orphanContainers.length && !d.orphanVolumes.length && !d.orphanNetworks.length && !d.transitional.length && !d.mismatched.length;
}

/** The store id a daemon stamps on its containers, read from one of its pods' containers. */
export async function storeIdOf(engine: DockerRuntime, podId: string): Promise<string> {
  const st = await engine.inspectContainer(`pinacle-pod-${podId}`);
  const sid = st?.labels[STORE_ID_LABEL];
  if (!sid) throw new Error(`no store id on the container of ${podId}`);
  return sid;
}

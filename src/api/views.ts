import type { Pod } from '../pods/types.js';

/** The API shape of a pod (openapi.yaml `Pod`). Env values never leave the daemon. */
export function podView(p: Pod) {
  return {
    id: p.id,
    name: p.name,
    template: p.template,
    image: p.image,
    command: p.command,
    state: p.state,
    runtime: p.runtime,
    sandboxed: p.sandboxed,
    resources: p.resources,
    ports: p.ports,
    envKeys: Object.keys(p.env).sort(),
    labels: p.labels,
    containerId: p.containerId,
    createdAt: p.createdAt,
    startedAt: p.startedAt,
    finishedAt: p.finishedAt,
    exitCode: p.exitCode,
    oomKilled: p.oomKilled,
    error: p.error,
  };
}

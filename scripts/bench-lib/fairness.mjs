import { DEFAULT_MODES, baseline, docker, rawCreate, rawDelete } from './engine.mjs';

/**
 * A container's options with what must differ between two pods taken out (names, ids, host
 * port numbers, label and env values that name the pod, the network's name), so that two
 * pods made the same way compare equal field by field.
 */
export async function optionsOf(id) {
  const i = await docker.getContainer(id).inspect();
  const { Hostname: _h, Labels, Env, ...config } = i.Config;
  const host = { ...i.HostConfig };
  host.PortBindings = Object.fromEntries(Object.entries(host.PortBindings ?? {}).map(([k, v]) => [k, v.map((b) => b.HostIp)]));
  host.Mounts = (host.Mounts ?? []).map((m) => `${m.Type}:${m.Target}:${m.ReadOnly ? 'ro' : 'rw'}`);
  if (!DEFAULT_MODES.has(host.NetworkMode)) host.NetworkMode = '(per-pod network)';
  return {
    Config: {
      ...config,
      LabelKeys: Object.keys(Labels ?? {}).filter((k) => !/pod-id|pod-name|store-id|bench$/.test(k)).sort(),
      EnvKeys: (Env ?? []).map((e) => e.split('=')[0]).filter((k) => !/^PINACLE_POD/.test(k)).sort(),
    },
    HostConfig: host,
  };
}

/** A network's options, minus its name, subnet and bridge name. */
export async function networkOptionsOf(name) {
  const n = await docker.getNetwork(name).inspect();
  const { 'com.docker.network.bridge.name': _b, ...options } = n.Options ?? {};
  return {
    Driver: n.Driver,
    Internal: n.Internal,
    Attachable: n.Attachable,
    EnableIPv6: n.EnableIPv6,
    IPAMDriver: n.IPAM?.Driver,
    Prefixes: (n.IPAM?.Config ?? []).map((c) => c.Subnet.split('/')[1]),
    Options: options,
    LabelKeys: Object.keys(n.Labels ?? {}).filter((k) => !/pod-id|store-id|bench$/.test(k)).sort(),
  };
}

/** Paths where two option trees differ, with both values. */
export function diffOptions(a, b, path = '') {
  const out = [];
  const isObj = (x) => x && typeof x === 'object' && !Array.isArray(x);
  if (isObj(a) && isObj(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) out.push(...diffOptions(a[k], b[k], path ? `${path}.${k}` : k));
  } else if (JSON.stringify(a) !== JSON.stringify(b)) out.push({ field: path, pinacled: a ?? null, raw: b ?? null });
  return out;
}

/**
 * Creates one pod through the daemon and reads how pinacled really made it: on a per-pod
 * network, the raw baseline copies that network's options from then on. Then makes one raw
 * pod and compares both, field by field. Returns the differences (none: a fair baseline).
 */
export async function probeBaseline(d, createBody) {
  const pod = await d.createPod(createBody);
  try {
    const mode = (await docker.getContainer(pod.containerId).inspect()).HostConfig.NetworkMode;
    baseline.perPodNetwork = !DEFAULT_MODES.has(mode);
    if (baseline.perPodNetwork) {
      const n = await docker.getNetwork(mode).inspect();
      const bridge = n.Options?.['com.docker.network.bridge.name'] ?? '';
      // pinacled names a pod's bridge PREFIX + 12 characters of the pod id (network/pod-networks.ts).
      baseline.network = { ...n, bridgePrefix: bridge.slice(0, Math.max(0, bridge.length - 12)) };
    }
    const raw = await rawCreate();
    try {
      const diff = diffOptions(await optionsOf(pod.containerId), await optionsOf(raw.id));
      if (baseline.perPodNetwork) {
        diff.push(...diffOptions(await networkOptionsOf(mode), await networkOptionsOf(raw.network), 'Network'));
      }
      return { perPodNetwork: baseline.perPodNetwork, differences: diff };
    } finally {
      await rawDelete(raw);
    }
  } finally {
    await d.deletePod(pod.id);
  }
}

import Docker from 'dockerode';
import { readFileSync } from 'node:fs';
import { BENCH_LABEL, BENCH_STORE_PREFIX, LOG_OPTS, dist, podFor, shortId } from './fixtures.mjs';
import { msSince, now } from './stats.mjs';

export const docker = new Docker({ socketPath: '/var/run/docker.sock' });

const STORE_ID_LABEL = 'dev.pinacle.store-id';
const RAW_STORE_ID = `${BENCH_STORE_PREFIX}raw`;

let builders;
async function load() {
  if (!builders) {
    const [spec, dspec] = await Promise.all([dist('pods/spec.js'), dist('runtime/docker-spec.js')]);
    builders = { buildContainerSpec: spec.buildContainerSpec, toDockerCreateBody: dspec.toDockerCreateBody };
  }
  return builders;
}

/** Host ports for raw pods, below the daemons' ranges (daemon.mjs); reused round-robin. */
let nextPort = 10000;
const rawPort = () => (nextPort = nextPort >= 10999 ? 10000 : nextPort + 1);

/**
 * The create body pinacled would send for this pod (its own pure builders, from dist/), with
 * the labels the service adds, plus the bench label that cleanup selects on.
 */
export async function rawCreateBody(pod) {
  const { buildContainerSpec, toDockerCreateBody } = await load();
  const spec = buildContainerSpec(pod, LOG_OPTS);
  spec.labels[STORE_ID_LABEL] = RAW_STORE_ID;
  spec.labels[BENCH_LABEL] = 'true';
  return toDockerCreateBody(spec);
}

/**
 * How pinacled's pods are networked, as seen on a real pod (probeBaseline): the engine's
 * default bridge, or one network per pod whose options the raw baseline then copies.
 */
export const baseline = { perPodNetwork: false, network: null };

const DEFAULT_MODES = new Set(['bridge', 'default', 'host', 'none']);

/** Raw pods' subnets: /prefix blocks of 10.250.0.0/16 (not pinacled's pool), round-robin. */
let nextBlock = 0;
function rawSubnet(prefix) {
  const size = 2 ** (32 - prefix);
  const blocks = 2 ** 16 / size;
  const i = nextBlock++ % blocks;
  const base = (10 << 24) | (250 << 16);
  const ip = (n) => [n >>> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255].join('.');
  const net = (base + i * size) >>> 0;
  return { subnet: `${ip(net)}/${prefix}`, gateway: ip(net + 1) };
}

/** A per-pod network with the options of pinacled's (from inspect), its own subnet and bridge. */
async function rawNetwork(id, labels) {
  const tpl = baseline.network;
  const prefix = Number(tpl.IPAM.Config[0].Subnet.split('/')[1]);
  for (let attempt = 0; attempt < 16; attempt++) {
    const { subnet, gateway } = rawSubnet(prefix);
    try {
      await docker.createNetwork({
        Name: `pinacled-bench-raw-net-${id}`,
        Driver: tpl.Driver,
        CheckDuplicate: true,
        Internal: tpl.Internal,
        Attachable: tpl.Attachable,
        EnableIPv6: tpl.EnableIPv6,
        IPAM: { Driver: tpl.IPAM.Driver, Config: [{ Subnet: subnet, Gateway: gateway }] },
        // The bridge name keeps pinacled's prefix (its host firewall matches pod bridges by it).
        Options: { ...tpl.Options, 'com.docker.network.bridge.name': `${tpl.bridgePrefix}${id.slice(-12)}` },
        Labels: labels,
      });
      return `pinacled-bench-raw-net-${id}`;
    } catch (err) {
      if (!(err.statusCode === 403 && /overlap/i.test(err.json?.message ?? err.message))) throw err;
    }
  }
  throw new Error('no free subnet for a raw pod network in 10.250.0.0/16');
}

/** A raw-dockerode pod: what pinacled's create does minus pinacled ([network,] volume, create, start, inspect). */
export async function rawCreate({ runtime = 'runsc', command, nofile } = {}) {
  const id = `r${shortId()}`;
  const pod = podFor({ id, name: id, runtime, hostPort: rawPort(), command, containerName: `pinacled-bench-raw-${id}`, volumeName: `pinacled-bench-raw-ws-${id}` });
  const body = await rawCreateBody(pod);
  if (nofile) body.HostConfig.Ulimits = body.HostConfig.Ulimits.map((u) => (u.Name === 'nofile' ? { ...u, Soft: nofile, Hard: nofile } : u));
  const ownerLabels = { 'dev.pinacle.managed': 'true', 'dev.pinacle.pod-id': id, [STORE_ID_LABEL]: RAW_STORE_ID, [BENCH_LABEL]: 'true' };
  const steps = {};
  const t0 = now();
  let t = now();
  let network = null;
  if (baseline.perPodNetwork) {
    network = await rawNetwork(id, ownerLabels);
    body.HostConfig.NetworkMode = network;
    steps.createNetwork = msSince(t);
    t = now();
  }
  await docker.createVolume({ Name: pod.volumeName, Labels: ownerLabels });
  steps.createVolume = msSince(t);
  t = now();
  const c = await docker.createContainer(body);
  steps.createContainer = msSince(t);
  t = now();
  await c.start();
  steps.start = msSince(t);
  t = now();
  const info = await c.inspect();
  steps.inspect = msSince(t);
  if (!info.State.Running) throw new Error(`raw pod ${pod.containerName} is ${info.State.Status} after start`);
  return { id: c.id, name: pod.containerName, volume: pod.volumeName, network, ms: msSince(t0), steps };
}

/** What pinacled's delete does (stop with grace, remove, remove the volume). */
export async function rawDelete(p, timeoutS = 10) {
  const t0 = now();
  const c = docker.getContainer(p.id);
  await c.stop({ t: timeoutS }).catch((err) => {
    if (err.statusCode !== 304) throw err;
  });
  await c.remove({ force: true, v: false });
  await docker.getVolume(p.volume).remove();
  if (p.network) await docker.getNetwork(p.network).remove();
  return msSince(t0);
}

/**
 * Removes everything any bench run made: containers and volumes with the bench label, and
 * the objects of bench daemons (store id `bench-*`). Never touches anything else.
 */
export async function cleanupBench() {
  const ours = (labels = {}) => labels[BENCH_LABEL] === 'true' || (labels[STORE_ID_LABEL] ?? '').startsWith(BENCH_STORE_PREFIX);
  const containers = [
    ...(await docker.listContainers({ all: true, filters: { label: [BENCH_LABEL] } })),
    ...(await docker.listContainers({ all: true, filters: { label: [STORE_ID_LABEL] } })),
  ].filter((c) => ours(c.Labels));
  const ids = [...new Set(containers.map((c) => c.Id))];
  await Promise.all(ids.map((id) => docker.getContainer(id).remove({ force: true }).catch(() => undefined)));
  const vols = [
    ...((await docker.listVolumes({ filters: { label: [BENCH_LABEL] } })).Volumes ?? []),
    ...((await docker.listVolumes({ filters: { label: [STORE_ID_LABEL] } })).Volumes ?? []),
  ].filter((v) => ours(v.Labels ?? {}));
  const names = [...new Set(vols.map((v) => v.Name))];
  await Promise.all(names.map((n) => docker.getVolume(n).remove().catch(() => undefined)));
  const nets = (await docker.listNetworks({ filters: { label: [STORE_ID_LABEL] } })).filter((n) => ours(n.Labels ?? {}));
  const netsB = await docker.listNetworks({ filters: { label: [BENCH_LABEL] } });
  const netIds = [...new Set([...nets, ...netsB].map((n) => n.Id))];
  await Promise.all(netIds.map((id) => docker.getNetwork(id).remove().catch(() => undefined)));
  return { containers: ids.length, volumes: names.length, networks: netIds.length };
}

/** Memory of a container from its cgroup (v1, as on this host), in bytes; null when unreadable. */
export function containerMemory(id) {
  const base = `/sys/fs/cgroup/memory/docker/${id}`;
  try {
    const usage = Number(readFileSync(`${base}/memory.usage_in_bytes`, 'utf8'));
    const stat = Object.fromEntries(
      readFileSync(`${base}/memory.stat`, 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(' '))
        .map(([k, v]) => [k, Number(v)]),
    );
    return { usage, workingSet: Math.max(0, usage - (stat.total_inactive_file ?? 0)), rss: stat.total_rss ?? null };
  } catch {
    return null;
  }
}

/** The hard RLIMIT_NOFILE the engine runs under: runc cannot give a container more. */
export async function engineNofileLimit() {
  try {
    const pid = readFileSync('/var/run/docker.pid', 'utf8').trim();
    const m = /Max open files\s+\S+\s+(\S+)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export function containerPids(id) {
  try {
    return Number(readFileSync(`/sys/fs/cgroup/pids/docker/${id}/pids.current`, 'utf8'));
  } catch {
    return null;
  }
}

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

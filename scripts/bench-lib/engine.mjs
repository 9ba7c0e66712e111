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

/** Network modes that are not a per-pod network. */
export const DEFAULT_MODES = new Set(['bridge', 'default', 'host', 'none']);

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
  const hostPort = rawPort();
  const pod = podFor({ id, name: id, runtime, hostPort, command, containerName: `pinacled-bench-raw-${id}`, volumeName: `pinacled-bench-raw-ws-${id}` });
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
  return { id: c.id, name: pod.containerName, volume: pod.volumeName, network, hostPort, ms: msSince(t0), steps };
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

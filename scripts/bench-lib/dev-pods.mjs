import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { docker } from './engine.mjs';
import { BENCH_LABEL, dist, shortId } from './fixtures.mjs';
import { request } from './http.mjs';
import { median, sleep } from './stats.mjs';

const LABELS = { [BENCH_LABEL]: 'true', 'dev.pinacle.bench-section': 'sandbox' };

/** A user-defined bridge network for the section's dev pods (like pinacled's per-pod networks). */
export async function benchNetwork() {
  const name = `pinacled-bench-sbx-${shortId()}`;
  await docker.createNetwork({ Name: name, Driver: 'bridge', CheckDuplicate: true, Labels: LABELS });
  return { name, remove: () => docker.getNetwork(name).remove().catch(() => undefined) };
}

/**
 * A pod of a template image started the way test/images/images.test.ts starts one (which is how
 * pinacled starts it): the runtime given, all capabilities dropped but pinacled's, no new
 * privileges, 2 GB, a fresh named volume on /workspace, ports published on 127.0.0.1 (ports
 * the engine picks), a per-pod PASSWORD. `entrypoint`/`cmd` override the image's; `archive`
 * (a path) is copied into /workspace before the start, owned by the image's dev user.
 * `noHealthcheck` turns off the image's HEALTHCHECK (the base image's probes code-server, which
 * a pod running something else lacks: its failing `docker exec` every 30 s is not the workload).
 */
export async function devPod({ runtime, image, network, ports = [], entrypoint, cmd, archive, noHealthcheck = false }) {
  const { POD_CAPABILITIES } = await dist('pods/spec.js');
  const id = shortId();
  const volume = `pinacled-bench-sbx-ws-${id}`;
  await docker.createVolume({ Name: volume, Labels: LABELS });
  const exposed = Object.fromEntries(ports.map((p) => [`${p}/tcp`, {}]));
  const bindings = Object.fromEntries(ports.map((p) => [`${p}/tcp`, [{ HostIp: '127.0.0.1', HostPort: '' }]]));
  let c;
  try {
    c = await docker.createContainer({
      name: `pinacled-bench-sbx-${id}`,
      Image: image,
      Labels: LABELS,
      Env: [`PASSWORD=${randomBytes(12).toString('hex')}`],
      ExposedPorts: exposed,
      ...(entrypoint ? { Entrypoint: entrypoint } : {}),
      ...(cmd ? { Cmd: cmd } : {}),
      ...(noHealthcheck ? { Healthcheck: { Test: ['NONE'] } } : {}),
      HostConfig: {
        Runtime: runtime,
        CapDrop: ['ALL'],
        CapAdd: [...POD_CAPABILITIES],
        SecurityOpt: ['no-new-privileges'],
        Memory: 2 * 2 ** 30,
        Mounts: [{ Type: 'volume', Source: volume, Target: '/workspace' }],
        NetworkMode: network,
        PortBindings: bindings,
      },
    });
    if (archive) await c.putArchive(tarOf(archive), { path: '/workspace' });
    await c.start();
  } catch (err) {
    if (c) await c.remove({ force: true }).catch(() => undefined);
    await docker.getVolume(volume).remove().catch(() => undefined);
    throw err;
  }
  const info = await c.inspect();
  const hostPort = (p) => Number(info.NetworkSettings.Ports?.[`${p}/tcp`]?.[0]?.HostPort);
  return { id: c.id, runtime, volume, hostPort };
}

/** A tar stream of a directory, every entry owned by uid/gid 1000 (the images' dev user). */
function tarOf(dir) {
  const p = spawn('tar', ['-C', dir, '-c', '--owner=1000', '--group=1000', '--numeric-owner', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return p.stdout;
}

export async function removeDevPod(p) {
  await docker.getContainer(p.id).remove({ force: true }).catch((err) => {
    if (err.statusCode !== 404) throw err;
  });
  await docker.getVolume(p.volume).remove().catch((err) => {
    if (err.statusCode !== 404) throw err;
  });
}

/** Runs a command in a container (as its image's user) to its end: { exitCode, stdout, stderr }. */
export async function execIn(id, cmd, timeoutMs = 300_000) {
  const exec = await docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: [], err: [] };
  out.on('data', (b) => chunks.out.push(b));
  err.on('data', (b) => chunks.err.push(b));
  docker.modem.demuxStream(stream, out, err);
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.destroy();
      reject(new Error(`${cmd.join(' ')}: no end within ${timeoutMs} ms`));
    }, timeoutMs);
    stream.on('end', () => {
      clearTimeout(timer);
      resolve();
    });
    stream.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  const { ExitCode } = await exec.inspect();
  return { exitCode: ExitCode, stdout: Buffer.concat(chunks.out).toString('utf8'), stderr: Buffer.concat(chunks.err).toString('utf8') };
}

/**
 * Wall time of a shell command measured inside the pod by bash's `time` (so neither `docker
 * exec`'s own setup nor the engine's API is counted), in seconds. Throws on a non-zero exit.
 */
export async function timedInPod(id, command) {
  const script = `TIMEFORMAT=%3R; { time ${command} >/dev/null 2>&1; } 2>/tmp/.bench-time; rc=$?; echo "$rc $(cat /tmp/.bench-time)"`;
  const r = await execIn(id, ['bash', '-c', script]);
  const m = /^(\d+) ([\d.]+)\s*$/.exec(r.stdout.trim());
  if (r.exitCode !== 0 || !m) throw new Error(`${command}: unexpected answer (exit ${r.exitCode}): ${r.stdout}${r.stderr}`);
  if (m[1] !== '0') throw new Error(`${command} exited ${m[1]} in the pod`);
  return Number(m[2]);
}

/** Polls http://127.0.0.1:port/path until `ok(status)`; returns the milliseconds it took. */
export async function waitForHttp(port, path, ok, deadlineMs, started = Date.now()) {
  let last = 'no answer';
  while (Date.now() - started < deadlineMs) {
    try {
      const a = await request(`http://127.0.0.1:${port}${path}`, { timeoutMs: Math.max(1_000, deadlineMs - (Date.now() - started)) });
      if (ok(a.status)) return Date.now() - started;
      last = `HTTP ${a.status}`;
    } catch (err) {
      last = err.message;
    }
    await sleep(500);
  }
  throw new Error(`127.0.0.1:${port}${path} did not answer in ${deadlineMs} ms (last: ${last})`);
}

/** CPU time the container's cgroup (the whole sandbox: sentry, gofer, guest) used so far, in ns. */
export const cpuNs = (id) => Number(readFileSync(`/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`, 'utf8'));

/**
 * CPU of several containers over the same window, in % of one core: measured side by side, so
 * outside load hits every runtime alike.
 */
export async function cpuPercents(ids, windowMs) {
  const a = ids.map(cpuNs);
  await sleep(windowMs);
  const b = ids.map(cpuNs);
  return ids.map((_, i) => ((b[i] - a[i]) / (windowMs * 1e6)) * 100);
}

/**
 * CPU of several containers over one window of `windowMs`, side by side, read every 5 s: the
 * window's mean (% of one core: what the pod costs, periodic bursts included) and the median of
 * its 5 s slices (the steady floor between bursts such as a 30 s HEALTHCHECK).
 */
export async function cpuWindow(ids, windowMs, sliceMs = 5_000) {
  const first = ids.map(cpuNs);
  const slices = ids.map(() => []);
  const t0 = Date.now();
  let prev = first;
  let tPrev = t0;
  while (Date.now() - t0 < windowMs - 1) {
    await sleep(Math.min(sliceMs, windowMs - (Date.now() - t0)));
    const cur = ids.map(cpuNs);
    const t = Date.now();
    for (const [i, c] of cur.entries()) slices[i].push(((c - prev[i]) / ((t - tPrev) * 1e6)) * 100);
    prev = cur;
    tPrev = t;
  }
  const elapsed = tPrev - t0;
  return ids.map((_, i) => ({ meanPercent: ((prev[i] - first[i]) / (elapsed * 1e6)) * 100, sliceMedianPercent: median(slices[i]), slices: slices[i].map((x) => Number(x.toFixed(2))) }));
}

/**
 * cpuSettled of test/images/images.test.ts for several pods at once: 5 s windows, side by side,
 * until each pod's last three are within one point of a core of each other (its dev server's
 * first compile and workers are done). Returns each pod's windows and whether it settled; a pod
 * that did not settle by the deadline is reported, not dropped.
 */
export async function cpuSettledAll(ids, deadlineMs) {
  const windows = ids.map(() => []);
  const settled = ids.map(() => false);
  const started = Date.now();
  while (Date.now() - started < deadlineMs && settled.some((s) => !s)) {
    const w = await cpuPercents(ids, 5_000);
    w.forEach((x, i) => {
      windows[i].push(x);
      const last = windows[i].slice(-3);
      if (last.length === 3 && Math.max(...last) - Math.min(...last) < 1) settled[i] = true;
    });
  }
  return ids.map((_, i) => ({ windows: windows[i].map((x) => Number(x.toFixed(2))), settled: settled[i] }));
}

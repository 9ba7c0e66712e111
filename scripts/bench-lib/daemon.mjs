import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_STORE_PREFIX, DIST, LOG_OPTS, dist, podFor } from './fixtures.mjs';
import { request } from './http.mjs';
import { summarizeDir } from './profile.mjs';
import { pool, sleep } from './stats.mjs';

/**
 * Prepares a data dir the way the daemon will find it: migrated, with a `bench-` store id (so
 * cleanup finds every object this daemon makes by label) and `seed` pod rows without
 * containers (the read benchmarks). Rows are `failed` / CONTAINER_GONE, the state the
 * reconciler gives a pod whose container is missing, so its first pass changes nothing.
 */
async function prepareDataDir(dataDir, seed, portRange) {
  const [{ openDb }, { PodsRepo }, ids] = await Promise.all([dist('store/db.js'), dist('store/pods-repo.js'), dist('pods/ids.js')]);
  const db = openDb(dataDir);
  const storeId = `${BENCH_STORE_PREFIX}${randomBytes(8).toString('hex')}`;
  db.prepare("UPDATE meta SET value = ? WHERE key = 'store_id'").run(storeId);
  const repo = new PodsRepo(db);
  db.transaction(() => {
    for (let i = 0; i < seed; i++) {
      const id = ids.newPodId();
      const pod = podFor({ id, name: `seeded-${i}`, containerName: ids.containerNameFor(id), volumeName: ids.volumeNameFor(id), state: 'failed' });
      delete pod.ports;
      pod.env = { FOO: 'bar', PASSWORD: 'x'.repeat(24) };
      pod.labels = { bench: 'true', team: `t${i % 7}` };
      pod.error = { code: 'CONTAINER_GONE', message: 'the container was removed outside pinacled; start the pod to recreate it' };
      repo.insertWithPorts(pod, [{ containerPort: 8080, name: 'code-server' }], '127.0.0.1', portRange);
    }
  })();
  db.close();
  return storeId;
}

let nextRange = 0;

/** Daemons still running: the suite kills them if it fails half-way. */
export const liveDaemons = new Set();

/**
 * --profile: every daemon runs under `node --cpu-prof` into its own directory under
 * `profileDir`; when it stops, its profile is summarised into `profiles` (label: its name).
 */
export const profiling = { profileDir: null, profiles: [] };

/**
 * Starts the built daemon (dist/main.js) on a loopback port of its choosing, in a temp data dir,
 * with the production defaults except where `env` says otherwise. Output goes to a log file.
 */
export async function startDaemon({ seed = 0, env = {}, nodeArgs = [], name = 'pinacled' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'pinacled-bench-'));
  const token = randomBytes(24).toString('hex');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  // Each daemon its own host port range (1,100 ports: the 1,000 seeded rows hold one each),
  // below the kernel's ephemeral ports and away from the tests' 20000-28000 and the default.
  const low = 11000 + (nextRange++ % 8) * 1100;
  const portRange = { low, high: low + 1099 };
  const dataDir = join(dir, 'data');
  let storeId;
  try {
    storeId = await prepareDataDir(dataDir, seed, portRange);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const logFile = join(dir, 'daemon.log');
  const fd = openSync(logFile, 'a');
  const profDir = profiling.profileDir ? join(profiling.profileDir, `${name}-${nextRange}`) : null;
  if (profDir) nodeArgs = [...nodeArgs, '--cpu-prof', `--cpu-prof-dir=${profDir}`];
  const proc = spawn(process.execPath, [...nodeArgs, join(DIST, 'main.js')], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      PINACLED_DATA_DIR: dataDir,
      PINACLED_TOKEN_FILE: tokenFile,
      PINACLED_HOST: '127.0.0.1',
      PINACLED_PORT: '0',
      PINACLED_PORT_RANGE: `${portRange.low}-${portRange.high}`,
      PINACLED_LOG_LEVEL: 'info',
      PINACLED_LOG_MAX_SIZE: LOG_OPTS.logMaxSize,
      PINACLED_LOG_MAX_FILE: String(LOG_OPTS.logMaxFile),
      // The per-token limit on mutating requests (default 120/min) protects the host from a
      // runaway client; the suite's hundreds of creates would measure the limiter instead.
      PINACLED_RATE_LIMIT_PER_MIN: '0',
      ...env,
    },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  liveDaemons.add({ proc, dir });
  const output = () => readFileSync(logFile, 'utf8');
  let url;
  const t0 = Date.now();
  while (!url) {
    if (proc.exitCode !== null) throw new Error(`${name} exited ${proc.exitCode}:\n${output().slice(-3000)}`);
    if (Date.now() - t0 > 60_000) throw new Error(`${name} did not listen within 60 s:\n${output().slice(-3000)}`);
    const m = /"address":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output());
    if (m) url = m[1];
    else await sleep(50);
  }
  const auth = { authorization: `Bearer ${token}` };
  const d = {
    name,
    url,
    token,
    pid: proc.pid,
    proc,
    dataDir,
    storeId,
    output,
    startedAtMs: t0,
    readyAfterMs: null,
    req: (method, path, body, timeoutMs) => request(`${url}${path}`, { method, headers: auth, body, timeoutMs }),
    async createPod(body) {
      const r = await d.req('POST', '/v1/pods', body);
      if (r.status !== 201) throw new Error(`${name}: POST /v1/pods -> ${r.status} ${r.text.slice(0, 500)}`);
      return r.json;
    },
    async deletePod(id, timeoutS = 10) {
      const r = await d.req('DELETE', `/v1/pods/${id}?timeout=${timeoutS}`);
      if (r.status !== 204) throw new Error(`${name}: DELETE /v1/pods/${id} -> ${r.status} ${r.text.slice(0, 500)}`);
    },
    /** Deletes every pod through the API, then SIGTERM; the data dir goes with it. */
    async stop({ deletePods = true } = {}) {
      if (proc.exitCode === null && proc.signalCode === null) {
        if (deletePods) {
          const list = await d.req('GET', '/v1/pods?limit=1000').catch(() => undefined);
          const pods = (list?.json?.items ?? []).filter((p) => p.containerId);
          await pool(pods.length, 4, (i) => d.deletePod(pods[i].id, 2).catch(() => undefined));
        }
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([exited, sleep(30_000)]);
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
        if (profDir) {
          const summary = summarizeDir(profDir);
          if (summary) profiling.profiles.push({ daemon: name, ...summary });
        }
      }
      rmSync(dir, { recursive: true, force: true });
      for (const x of liveDaemons) if (x.proc === proc) liveDaemons.delete(x);
    },
  };
  while (true) {
    if (proc.exitCode !== null) throw new Error(`${name} exited ${proc.exitCode}:\n${output().slice(-3000)}`);
    const r = await request(`${url}/readyz`, { timeoutMs: 10_000 }).catch(() => undefined);
    if (r?.status === 200) break;
    if (Date.now() - t0 > 300_000) throw new Error(`${name} not ready within 300 s:\n${output().slice(-3000)}`);
    await sleep(100);
  }
  d.readyAfterMs = Date.now() - t0;
  return d;
}

/** Kills what a failed run left: the daemons (SIGKILL) and their temp dirs. */
export function killLiveDaemons() {
  for (const x of liveDaemons) {
    if (x.proc.exitCode === null && x.proc.signalCode === null) x.proc.kill('SIGKILL');
    rmSync(x.dir, { recursive: true, force: true });
  }
  liveDaemons.clear();
}

/** RSS (bytes) and cumulative CPU (seconds, user+system) of a process, from /proc. */
export function procUsage(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  const hwmKb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[11]) + Number(rest[12]);
  return { rssBytes: rssKb * 1024, peakRssBytes: hwmKb * 1024, cpuSeconds: ticks / CLK_TCK };
}

/** USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK). */
const CLK_TCK = 100;

/** Idle cost over a window: mean CPU (% of one core) and RSS (median and max of 1 s samples). */
export async function idleWindow(pid, seconds) {
  const first = procUsage(pid);
  const t0 = process.hrtime.bigint();
  const rss = [];
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    rss.push(procUsage(pid).rssBytes);
  }
  const last = procUsage(pid);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  rss.sort((a, b) => a - b);
  return {
    windowS: Math.round(wall),
    cpuPercent: ((last.cpuSeconds - first.cpuSeconds) / wall) * 100,
    rssMedianBytes: rss[Math.floor(rss.length / 2)],
    rssMaxBytes: rss[rss.length - 1],
    peakRssBytes: last.peakRssBytes,
  };
}

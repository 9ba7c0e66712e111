import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { request } from 'node:http';
import { promisify } from 'node:util';
import type { Test } from 'tap';
import { eventually } from './app.js';
import { TEST_IMAGE } from './daemon.js';

const run = promisify(execFile);

export interface SecondEngine {
  /** DOCKER_HOST for this engine: unix:///run/pinacled-test-dockerd-N.sock */
  host: string;
  socketPath: string;
  /**
   * PINACLED_POD_SUBNET_POOL for a daemon on this engine: its pod bridges live on the same host
   * as the shared engine's, so their subnets must not overlap (the default pool is shared).
   */
  podSubnetPool: string;
  running(): boolean;
  /** Starts dockerd (again) and waits until it answers. */
  start(): Promise<void>;
  /** SIGTERM, and waits for dockerd to exit (its containers stop with it: no live-restore). */
  stop(): Promise<void>;
  /** The docker CLI against this engine. */
  docker(args: string[]): Promise<string>;
  /** dockerd's own log so far. */
  log(): string;
}

/**
 * A PRIVATE dockerd for tests that stop and start the engine: the shared one must never be
 * restarted (other tests run on it). Everything is its own: data root, exec root (so its own
 * containerd and runsc state), pid file, socket, and a bridge made here with `ip link`, with
 * iptables off so it never touches the shared engine's rules. runsc is registered with the same
 * runtimeArgs as the shared engine (/etc/docker/daemon.json), and the test image is loaded into
 * it. Torn down with the test: containers, daemon, mounts, directories, bridge. After it ran,
 * the shared engine's `docker0` must still exist (the helper checks, see the config below).
 */
/**
 * `netns`: the engine runs in that (existing) network namespace with iptables on, as a host's
 * dockerd does: its chains (DOCKER-USER, the FORWARD jumps) are that namespace's own, so a test
 * can restart it and watch what becomes of the pod firewall without touching the shared
 * engine's rules.
 */
export async function secondEngine(t: Test, opts: { images?: string[]; netns?: string } = {}): Promise<SecondEngine> {
  const n = await freeIndex();
  const name = `pinacled-test-dockerd-${n}`;
  const dataRoot = `/var/lib/${name}`;
  const execRoot = `/run/${name}`;
  const socketPath = `/run/${name}.sock`;
  const pidFile = `/run/${name}.pid`;
  const configFile = `/run/${name}.json`;
  const logFile = `/tmp/${name}.log`;
  const bridge = `pnctbr${n}`;
  const host = `unix://${socketPath}`;
  const shared = JSON.parse(readFileSync('/etc/docker/daemon.json', 'utf8')) as { runtimes?: unknown };
  mkdirSync(dataRoot, { recursive: true });
  mkdirSync(execRoot, { recursive: true });
  writeFileSync(
    configFile,
    JSON.stringify({
      runtimes: shared.runtimes ?? {},
      'data-root': dataRoot,
      'exec-root': execRoot,
      pidfile: pidFile,
      hosts: [host],
      bridge,
      iptables: !!opts.netns,
      'ip-forward': !!opts.netns,
      'ip-masq': !!opts.netns,
      // NO default-address-pools here: with it set, dockerd 20.10 deletes the host's `docker0`
      // (hard-coded name, whatever `bridge` says) when it restarts with a stale default network,
      // which broke the shared engine's default bridge once. Pods use PINACLED_POD_SUBNET_POOL.
      'shutdown-timeout': 2,
      'log-level': 'warn',
    }),
  );
  const hadDocker0 = await linkExists('docker0');
  const ipIn = opts.netns ? ['-n', opts.netns] : [];
  await run('ip', [...ipIn, 'link', 'add', bridge, 'type', 'bridge']);
  await run('ip', [...ipIn, 'addr', 'add', `10.218.${n}.1/24`, 'dev', bridge]);
  await run('ip', [...ipIn, 'link', 'set', bridge, 'up']);

  let proc: ChildProcess | undefined;
  const docker = async (args: string[]) => (await run('docker', ['-H', host, ...args], { maxBuffer: 64 * 1024 * 1024 })).stdout;
  const engine: SecondEngine = {
    host,
    socketPath,
    podSubnetPool: `10.217.${n}.0/24`,
    running: () => !!proc && proc.exitCode === null && proc.signalCode === null,
    async start() {
      if (engine.running()) return;
      const fd = openSync(logFile, 'a');
      const argv = ['dockerd', '--config-file', configFile];
      // nsenter enters only the network namespace; `ip netns exec` would also mount a new /sys,
      // hiding the cgroup mounts dockerd needs.
      const [cmd, ...args] = opts.netns ? ['nsenter', `--net=/run/netns/${opts.netns}`, ...argv] : argv;
      proc = spawn(cmd!, args, { stdio: ['ignore', fd, fd] });
      closeSync(fd);
      const p = proc;
      await eventually(async () => {
        if (p.exitCode !== null) throw new Error(`dockerd exited ${p.exitCode}: ${engine.log().slice(-2000)}`);
        return ping(socketPath);
      }, 60_000, 100);
      if (hadDocker0 && !(await linkExists('docker0'))) throw new Error("the private dockerd removed the shared engine's docker0 bridge");
    },
    async stop() {
      const p = proc;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      const killer = setTimeout(() => p.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(killer);
    },
    docker,
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
  };

  t.teardown(async () => {
    if (engine.running()) {
      const ids = (await docker(['ps', '-aq']).catch(() => '')).split('\n').filter(Boolean);
      if (ids.length) await docker(['rm', '-f', ...ids]).catch(() => undefined);
    }
    await engine.stop();
    // The managed containerd normally exits with dockerd; if not, end that one process.
    const ctrPid = Number(readFileOr(`${execRoot}/containerd/containerd.pid`, '0'));
    if (ctrPid > 0) {
      try {
        process.kill(ctrPid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    // Shims and runsc sandboxes of containers the engine lost track of across its restarts
    // outlive dockerd (seen: five shims and a sandbox 34 min after a run). They name our exec
    // root on their command line; nothing else does.
    const leftovers = processesMentioning(`${execRoot}/`);
    for (const pid of leftovers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (leftovers.length) t.comment(`killed ${leftovers.length} leftover shim/sandbox processes of the private engine`);
    // Leftover mounts (overlay, netns, shm) under our roots, deepest first.
    const mounts = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1] ?? '')
      .filter((m) => m.startsWith(`${dataRoot}/`) || m.startsWith(`${execRoot}/`))
      .sort((a, b) => b.length - a.length);
    for (const m of mounts) await run('umount', ['-l', m]).catch(() => undefined);
    for (const p of [dataRoot, execRoot, socketPath, pidFile, configFile]) rmSync(p, { recursive: true, force: true });
    await run('ip', [...ipIn, 'link', 'del', bridge]).catch(() => undefined);
    if (hadDocker0 && !(await linkExists('docker0'))) t.fail('the private dockerd removed the shared engine\'s docker0 bridge');
  });

  await engine.start();
  for (const image of opts.images ?? [TEST_IMAGE]) {
    await run('sh', ['-c', `docker save ${image} | docker -H ${host} load -q`]);
  }
  return engine;
}

async function linkExists(name: string): Promise<boolean> {
  return run('ip', ['link', 'show', name]).then(
    () => true,
    () => false,
  );
}

/** Pids of the processes whose command line contains `needle` (this process excluded). */
function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    if (readFileOr(`/proc/${pid}/cmdline`, '').includes(needle)) pids.push(pid);
  }
  return pids;
}

function readFileOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return fallback;
  }
}

/** GET /_ping on the engine socket. */
function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/** An index whose socket, bridge and subnets are all unused on this host. */
async function freeIndex(): Promise<number> {
  const routes = (await run('ip', ['-4', 'route'])).stdout;
  const links = (await run('ip', ['-o', 'link'])).stdout;
  for (let tries = 0; tries < 50; tries++) {
    const n = 1 + Math.floor(Math.random() * 99);
    if (existsSync(`/run/pinacled-test-dockerd-${n}.sock`) || existsSync(`/var/lib/pinacled-test-dockerd-${n}`)) continue;
    if (links.includes(`pnctbr${n}:`) || [`10.218.${n}.`, `10.217.${n}.`].some((net) => routes.includes(net))) continue;
    return n;
  }
  throw new Error('no free index for a private dockerd');
}

export interface EngineProxy {
  /** DOCKER_HOST pointing at the proxy. */
  host: string;
  /**
   * `pass`: forward to the engine. `hang`: accept connections and never answer (a hung engine);
   * open connections stop forwarding too. Back to `pass`, frozen connections are closed.
   */
  mode(m: 'pass' | 'hang'): void;
}

/**
 * A unix socket in front of an engine socket that can play a hung engine: it accepts, reads and
 * never answers. (A stopped engine refuses connections; a hung one is the harder case, since
 * only deadlines get a caller out.)
 */
export async function engineProxy(t: Test, upstreamSocket: string): Promise<EngineProxy> {
  const { createServer, connect } = await import('node:net');
  const path = `/run/pinacled-test-proxy-${process.pid}-${Math.floor(Math.random() * 1e6)}.sock`;
  let mode: 'pass' | 'hang' = 'pass';
  type Sock = import('node:net').Socket;
  const pairs = new Set<{ client: Sock; up: Sock | undefined; frozen: boolean }>();
  const server = createServer((client) => {
    const pair = { client, up: undefined as Sock | undefined, frozen: false };
    pairs.add(pair);
    client.on('close', () => {
      pair.up?.destroy();
      pairs.delete(pair);
    });
    client.on('error', () => undefined);
    if (mode === 'hang') {
      pair.frozen = true;
      client.resume(); // read and drop: the engine "received" the request
      return;
    }
    const up = connect(upstreamSocket);
    pair.up = up;
    up.on('error', () => client.destroy());
    up.on('close', () => client.destroy());
    client.pipe(up);
    up.pipe(client);
  });
  await new Promise<void>((r) => server.listen(path, r));
  t.teardown(async () => {
    for (const p of pairs) {
      p.client.destroy();
      p.up?.destroy();
    }
    await new Promise((r) => server.close(r));
    rmSync(path, { force: true });
  });
  return {
    host: `unix://${path}`,
    mode(m) {
      mode = m;
      for (const p of pairs) {
        if (m === 'hang' && p.up && !p.frozen) {
          p.frozen = true;
          p.client.unpipe(p.up);
          p.up.unpipe(p.client);
          p.up.pause();
          p.client.resume();
        } else if (m === 'pass' && p.frozen) {
          p.client.destroy();
        }
      }
    },
  };
}

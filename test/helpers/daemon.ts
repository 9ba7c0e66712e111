import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Test } from 'tap';
import { eventually } from './app.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const TEST_IMAGE = process.env.PINACLED_TEST_IMAGE ?? 'pinacled/testbox:1';

export interface RealDaemon {
  baseUrl: string;
  port: number;
  token: string;
  dataDir: string;
  proc: ChildProcess;
  /** Output of the daemon so far (JSON log lines). */
  output(): string;
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; text: string; headers: Headers }>;
  /** Every pod: GET /v1/pods page after page (throws on a non-200). */
  listPods(): Promise<any[]>;
  /** SIGKILL, no cleanup (crash tests). */
  kill(): Promise<void>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  /** Start another process on the same data dir and port (after kill/stop). */
  restart(): Promise<void>;
}

let nextPort = 17000 + Math.floor(Math.random() * 2000);

/**
 * Runs the built daemon (dist/main.js, `npm run build` first; ./scripts/test does) against the
 * real Docker engine, in a temp data dir, on a loopback port. All pods it made are deleted and
 * the process stopped when the test ends.
 */
/**
 * `netns`: run the daemon in that network namespace (nsenter), listening on `host` (an
 * address of the namespace the test can route to), e.g. beside a private engine with its own
 * iptables (second-engine.ts).
 */
export interface DaemonPlace {
  netns?: string;
  host?: string;
}

export async function realDaemon(t: Test, env: Record<string, string> = {}, place: DaemonPlace = {}): Promise<RealDaemon> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pinacled-it-'));
  const token = `it-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  const tokenFile = join(dataDir, 'token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const port = nextPort++;
  const rangeLow = 20000 + Math.floor(Math.random() * 200) * 40;
  let out = '';
  const childEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    PINACLED_DATA_DIR: join(dataDir, 'data'),
    PINACLED_TOKEN_FILE: tokenFile,
    PINACLED_PORT: String(port),
    PINACLED_HOST: place.host ?? '127.0.0.1',
    PINACLED_PORT_RANGE: `${rangeLow}-${rangeLow + 39}`,
    PINACLED_LOG_LEVEL: 'info',
    PINACLED_RECONCILE_INTERVAL_S: '5',
    PINACLED_STOP_TIMEOUT_S: '2',
    // No rate limit unless a test asks for one (bulk and load tests).
    PINACLED_RATE_LIMIT_PER_MIN: '0',
    // PINACLED_TEST_RUNTIME runs the real-engine files on another registered runtime (runsc-legacy, ...).
    PINACLED_RUNTIME: process.env.PINACLED_TEST_RUNTIME ?? 'runsc',
    ...env,
  };
  const d: RealDaemon = {
    baseUrl: `http://${place.host ?? '127.0.0.1'}:${port}`,
    port,
    token,
    dataDir,
    proc: undefined as unknown as ChildProcess,
    output: () => out,
    async request(method, path, body, headers = {}) {
      const res = await fetch(`${d.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(120_000),
      });
      const text = await res.text();
      let parsed: unknown ;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.status, body: parsed, text, headers: res.headers };
    },
    async listPods() {
      const all: unknown[] = [];
      let after: string | null = null;
      do {
        const r = await d.request('GET', `/v1/pods?limit=1000${after ? `&after=${after}` : ''}`);
        if (r.status !== 200) throw new Error(`GET /v1/pods: ${r.status} ${r.text.slice(0, 300)}`);
        all.push(...r.body.items);
        after = r.body.next;
      } while (after);
      return all;
    },
    async kill() {
      if (d.proc.exitCode !== null || d.proc.signalCode !== null) return;
      const exited = new Promise((r) => d.proc.once('exit', r));
      d.proc.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (d.proc.exitCode !== null || d.proc.signalCode !== null) return d.proc.exitCode;
      const exited = new Promise<number | null>((r) => d.proc.once('exit', (code) => r(code)));
      d.proc.kill('SIGTERM');
      return exited;
    },
    async restart() {
      launch();
      await waitReady();
    },
  };
  const launch = () => {
    const argv = [process.execPath, join(ROOT, 'dist', 'main.js')];
    // nsenter enters only the network namespace (`ip netns exec` would also mount a new /sys,
    // hiding the cgroup files the stats collector reads) and execs node: the child is the daemon.
    const [cmd, ...args] = place.netns ? ['nsenter', `--net=/run/netns/${place.netns}`, ...argv] : argv;
    d.proc = spawn(cmd!, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    d.proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    d.proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  };
  const waitReady = () =>
    eventually(async () => {
      if (d.proc.exitCode !== null) throw new Error(`daemon exited ${d.proc.exitCode}: ${out.slice(-2000)}`);
      const r = await fetch(`${d.baseUrl}/readyz`).catch(() => undefined);
      return r?.status === 200;
    }, 30_000, 100);
  launch();
  await waitReady();
  t.teardown(async () => {
    if (d.proc.exitCode === null && d.proc.signalCode === null) {
      const list = await d.listPods().catch(() => []);
      for (const p of list as { id: string }[]) await d.request('DELETE', `/v1/pods/${p.id}?timeout=0`).catch(() => undefined);
      await d.stop();
    }
    rmSync(dataDir, { recursive: true, force: true });
  });
  return d;
}

/** Raw HTTP/1.0 GET over TCP (busybox httpd in the test image speaks it). */
export async function httpGet(host: string, port: number, timeoutMs = 3000): Promise<string> {
  const { connect } = await import('node:net');
  return new Promise((resolveP, reject) => {
    const s = connect({ host, port });
    let data = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    s.on('connect', () => s.write('GET / HTTP/1.0\r\n\r\n'));
    s.on('data', (b) => (data += b.toString()));
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolveP(data);
    });
  });
}

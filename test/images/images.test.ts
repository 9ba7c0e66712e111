// The pod images (images/, built by scripts/build-images) really work under gVisor: each one is
// started the way pinacled starts a pod (runsc, all capabilities dropped, no-new-privileges, a
// new named volume on /workspace, ports published on 127.0.0.1) and must answer on its ports.
//
// The images are built in a separate, slower CI stage. A missing image skips its test, unless
// PINACLED_REQUIRE_IMAGES=1 (set by CI after the build stage) turns that into a failure.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { POD_CAPABILITIES } from '../../src/pods/spec.js';
import { templateRuntime } from '../helpers/sandbox.js';

const run = promisify(execFile);
const version: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
const tag = process.env.PINACLED_IMAGE_TAG ?? version;
const prefix = process.env.PINACLED_IMAGE_PREFIX ?? 'pinacled';
const requireImages = process.env.PINACLED_REQUIRE_IMAGES === '1';
const image = (name: string) => `${prefix}/${name}:${tag}`;

async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 16 * 1024 * 1024, timeout: 120_000 });
  return stdout.trim();
}

async function imagePresent(ref: string): Promise<boolean> {
  try {
    await docker('image', 'inspect', ref);
    return true;
  } catch {
    return false;
  }
}

// A network of the tests' own, like pinacled's per-pod networks; it does not depend on the
// default docker0 bridge.
let network: Promise<string> | undefined;
function testNetwork(): Promise<string> {
  network ??= (async () => {
    const name = `pinacled-imgtest-${randomBytes(4).toString('hex')}`;
    await docker('network', 'create', '--label', 'dev.pinacle.test=images', name);
    t.teardown(() => docker('network', 'rm', name).catch(() => undefined));
    return name;
  })();
  return network;
}

interface Pod {
  id: string;
  password: string;
  port(containerPort: number): Promise<number>;
  exec(...cmd: string[]): Promise<string>;
}

type ImageName = 'base' | 'nextjs' | 'mastra';

/**
 * Starts a container of an image like pinacled starts a pod of the template of that name (on the
 * runtime of the template's platform) and removes it (and its volume) in teardown.
 */
async function startPod(tt: Test, name: ImageName, ports: number[], opts: { network?: string } = {}): Promise<Pod> {
  const suffix = randomBytes(4).toString('hex');
  const volume = `pinacled-imgtest-${suffix}`;
  const password = randomBytes(12).toString('hex');
  await docker('volume', 'create', '--label', 'dev.pinacle.test=images', volume);
  tt.teardown(async () => {
    await docker('rm', '-f', '-v', `pinacled-imgtest-${suffix}`).catch(() => undefined);
    await docker('volume', 'rm', '-f', volume).catch(() => undefined);
  });
  const args = ['run', '-d', '--name', `pinacled-imgtest-${suffix}`, '--label', 'dev.pinacle.test=images'];
  args.push(`--runtime=${templateRuntime(name)}`, '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--memory', '2g');
  for (const cap of POD_CAPABILITIES) args.push('--cap-add', cap);
  args.push('--mount', `type=volume,source=${volume},target=/workspace`, '-e', `PASSWORD=${password}`);
  args.push('--network', opts.network ?? (await testNetwork()));
  for (const p of ports) args.push('-p', `127.0.0.1::${p}`);
  const id = await docker(...args, image(name));
  return {
    id,
    password,
    async port(containerPort) {
      const out = await docker('port', id, `${containerPort}/tcp`);
      const m = /127\.0\.0\.1:(\d+)/.exec(out);
      if (!m?.[1]) throw new Error(`port ${containerPort} is not published: ${out}`);
      return Number(m[1]);
    },
    exec: (...cmd) => docker('exec', '-u', 'dev', id, ...cmd),
  };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, path: string, opts: { method?: string; body?: string; timeoutMs?: number } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        headers: opts.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {},
        timeout: opts.timeoutMs ?? 30_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Polls until the port answers with an accepted status; returns the answer and the time taken. */
async function waitForHttp(port: number, path: string, ok: (status: number) => boolean, deadlineMs: number, started = Date.now()) {
  let last = 'no answer';
  while (Date.now() - started < deadlineMs) {
    try {
      const a = await request(port, path, { timeoutMs: Math.max(1_000, deadlineMs - (Date.now() - started)) });
      if (ok(a.status)) return { answer: a, ms: Date.now() - started };
      last = `HTTP ${a.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`127.0.0.1:${port}${path} did not answer in ${deadlineMs} ms (last: ${last})`);
}

/** CPU used by the container's cgroup (the whole sandbox) over a window, in % of one core. */
async function cpuPercent(id: string, windowMs: number): Promise<number> {
  const file = `/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`;
  const a = Number(readFileSync(file, 'utf8'));
  await new Promise((r) => setTimeout(r, windowMs));
  const b = Number(readFileSync(file, 'utf8'));
  return ((b - a) / (windowMs * 1e6)) * 100;
}

/**
 * Waits until the container's CPU use stops falling: the dev server's first compile and its
 * TypeScript worker finish at a time that depends on the machine's load, so a fixed pause
 * measures the tail of the build on a busy host. Settled: three 5 s windows in a row within one
 * point of a core of each other. Returns the windows seen; throws with them past the deadline.
 */
async function cpuSettled(id: string, deadlineMs: number): Promise<number[]> {
  const windows: number[] = [];
  const started = Date.now();
  while (Date.now() - started < deadlineMs) {
    windows.push(await cpuPercent(id, 5_000));
    const last = windows.slice(-3);
    if (last.length === 3 && Math.max(...last) - Math.min(...last) < 1) return windows;
  }
  throw new Error(`CPU did not settle in ${deadlineMs} ms: ${windows.map((w) => w.toFixed(1)).join(', ')} % of a core per 5 s`);
}

/** tap's `skip` option for a test of an image: false when present, else why it is skipped. */
async function skipUnlessBuilt(name: string): Promise<string | false> {
  const ref = image(name);
  if (await imagePresent(ref)) return false;
  if (requireImages) {
    t.fail(`${ref} is missing: run scripts/build-images first`);
    return `${ref} is missing`;
  }
  return `${ref} is missing (build it with scripts/build-images; PINACLED_REQUIRE_IMAGES=1 makes this fail)`;
}

t.test('base', { skip: await skipUnlessBuilt('base') }, async (t) => {
  const ref = image('base');

  t.test('the image holds no password', async (t) => {
    const env: string[] = JSON.parse(await docker('image', 'inspect', '-f', '{{json .Config.Env}}', ref));
    t.notOk(env.some((e) => /^(PASSWORD|HASHED_PASSWORD)=/.test(e)), 'no PASSWORD in the image env');
    const files = await docker('run', '--rm', '--runtime=runsc', '--network', 'none', '--user', '0', '--entrypoint', 'sh', ref, '-c',
      'cat /etc/code-server/config.yaml; for d in /root /home/dev; do test -e $d/.config/code-server && echo "GENERATED in $d"; done; true');
    t.notMatch(files, /^password:/m, 'the shipped code-server config has no password');
    t.notMatch(files, /GENERATED/, 'no code-server config (with a generated password) in a home directory');
  });

  t.test('code-server serves its login page under runsc, with the per-pod password', async (t) => {
    const started = Date.now();
    const pod = await startPod(t, 'base', [8080]);
    const port = await pod.port(8080);
    const { answer, ms } = await waitForHttp(port, '/', (s) => s === 200 || s === 302, 90_000, started);
    t.comment(`code-server answered HTTP ${answer.status} ${ms} ms after docker run`);
    t.ok(answer.status === 302 || answer.status === 200);
    if (answer.status === 302) t.match(answer.headers.location, /login/);

    const wrong = await request(port, '/login', { method: 'POST', body: 'password=wrong' });
    t.equal(wrong.status, 200, 'a wrong password gets the login page again');
    t.notOk(wrong.headers['set-cookie'], 'and no session cookie');
    const right = await request(port, '/login', { method: 'POST', body: `password=${pod.password}` });
    t.equal(right.status, 302, 'the pod password logs in');
    t.match(String(right.headers['set-cookie']), /code-server-session/);
    const health = await request(port, '/healthz');
    t.equal(health.status, 200, '/healthz answers (the HEALTHCHECK)');
  });

  t.test('the tools work as dev inside gVisor', async (t) => {
    const pod = await startPod(t, 'base', []);
    t.equal(await pod.exec('uname', '-r'), '4.4.0', 'runs under gVisor');
    t.equal(await pod.exec('id', '-un'), 'dev');
    for (const cmd of [['git', '--version'], ['node', '--version'], ['python3', '--version'], ['claude', '--version'],
      ['code-server', '--version'], ['npm', '--version'], ['pnpm', '--version']]) {
      const out = await pod.exec(...cmd);
      t.ok(out.length > 0, `${cmd.join(' ')}: ${out.split('\n')[0]}`);
    }
    t.match(await pod.exec('node', '--version'), /^v20\./);
    // coreutils' statx() flags are rejected by the packaged runsc without the image's shim.
    t.match(await pod.exec('ls', '-ld', '/workspace'), /^drwx.* dev dev /, 'ls works and dev owns /workspace');
    await pod.exec('sh', '-c', 'echo ok > /workspace/probe && git -C /workspace init -q');
  });

  t.test('without a password code-server refuses to start', async (t) => {
    const out = await docker('run', '--rm', '--runtime=runsc', '--network', 'none', ref).catch((e: { stderr?: string; code?: number }) => `exit ${e.code}: ${e.stderr}`);
    t.match(out, /exit 64: .*PASSWORD/s);
  });
});

t.test('nextjs: next dev answers 200 on 3000 without the network, and idles cheaply', { skip: await skipUnlessBuilt('nextjs') }, async (t) => {
  const started = Date.now();
  const pod = await startPod(t, 'nextjs', [3000, 8080]);
  const { answer, ms } = await waitForHttp(await pod.port(3000), '/', (s) => s === 200, 240_000, started);
  t.comment(`next dev answered HTTP 200 ${ms} ms after docker run`);
  t.match(answer.body, /<html/);
  await waitForHttp(await pod.port(8080), '/', (s) => s === 302 || s === 200, 60_000);
  t.match(await pod.exec('ls', '/workspace'), /package\.json/, 'the workspace holds the starter');

  // After the first page, Turbopack and the TypeScript worker keep working for a while; then idle.
  const settling = await cpuSettled(pod.id, 180_000);
  t.comment(`settling, % of a core per 5 s: ${settling.map((w) => w.toFixed(1)).join(', ')}`);
  const cpu = await cpuPercent(pod.id, 20_000);
  t.comment(`nextjs pod idle CPU (code-server + next dev on ${templateRuntime('nextjs')}, cgroup, 20 s): ${cpu.toFixed(2)}% of one core`);
  t.ok(cpu < 5, `idle CPU under 5% of one core (${cpu.toFixed(2)}%)`);
});

t.test('nextjs: next dev serves the starter with no network at all', { skip: await skipUnlessBuilt('nextjs') }, async (t) => {
  // --network none: only loopback inside the pod, so the page is fetched from inside it.
  const pod = await startPod(t, 'nextjs', [], { network: 'none' });
  const started = Date.now();
  let status = '';
  while (Date.now() - started < 240_000) {
    status = await pod.exec('curl', '-s', '-o', '/dev/null', '-m', '60', '-w', '%{http_code}', 'http://127.0.0.1:3000/').catch(() => '000');
    if (status === '200') break;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  t.equal(status, '200', 'next dev answers 200 inside a pod without network');
  t.comment(`offline next dev answered 200 ${Date.now() - started} ms after start`);
});

t.test('mastra: the dev server answers on 4111', { skip: await skipUnlessBuilt('mastra') }, async (t) => {
  const started = Date.now();
  const pod = await startPod(t, 'mastra', [4111, 8080]);
  const port = await pod.port(4111);
  const { ms } = await waitForHttp(port, '/api', (s) => s === 200, 240_000, started);
  t.comment(`mastra dev answered HTTP 200 on /api ${ms} ms after docker run`);
  const agents = await request(port, '/api/agents');
  t.equal(agents.status, 200);
  t.match(agents.body, /weatherAgent/, 'the starter agent is served');
});

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { eventually } from '../helpers/app.js';
import { ROOT } from '../helpers/daemon.js';

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

/** The README's walk-through, verbatim, with only the token file and the API port substituted. */
function walkthrough(tokenFile: string, port: number): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /```sh\n(TOKEN=\$\(head -n1 \/etc\/pinacled\/tokens\)[\s\S]*?)```/.exec(readme);
  if (!block?.[1]) throw new Error('README walk-through block not found');
  return block[1].replace('/etc/pinacled/tokens', tokenFile).replace('http://127.0.0.1:7070', `http://127.0.0.1:${port}`);
}

function run(cmd: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b) => (out += b));
    p.stderr.on('data', (b) => (out += b));
    p.on('exit', (code) => resolve({ code, out }));
  });
}

t.test('./scripts/up brings the daemon up, twice without changes, and the README walk-through works', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pinacled-up-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = 17900 + Math.floor(Math.random() * 90);
  const env = {
    PINACLED_SKIP_IMAGES: '1',
    PINACLED_PORT: String(port),
    PINACLED_DATA_DIR: join(dir, 'data'),
    PINACLED_TOKEN_FILE: join(dir, 'tokens'),
    PINACLED_METRICS_TOKEN_FILE: join(dir, 'metrics-token'),
    PINACLED_PORT_RANGE: '33000-33099',
  };
  const daemonJson = '/etc/docker/daemon.json';
  const before = sha(daemonJson);

  for (const round of [1, 2]) {
    const up = spawn(join(ROOT, 'scripts', 'up'), [], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    up.stdout.on('data', (b) => (out += b));
    up.stderr.on('data', (b) => (out += b));
    let gone = false;
    const exited = new Promise((r) =>
      up.once('exit', (code) => {
        gone = true;
        r(code);
      }),
    );
    try {
      await eventually(async () => {
        if (gone) throw new Error(`scripts/up exited early:\n${out.slice(-3000)}`);
        return (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200;
      }, 180_000, 250).catch((err: Error) => {
        throw new Error(`${err.message}\n--- scripts/up output ---\n${out.slice(-3000)}`);
      });
      t.match(out, new RegExp(`listens on http://127\\.0\\.0\\.1:${port}`), `round ${round}: says where it listens`);
      t.match(out, /Authorization: Bearer/, `round ${round}: says how to authenticate`);
      t.equal(statSync(env.PINACLED_TOKEN_FILE).mode & 0o777, 0o600, 'token file is private');
      t.equal(statSync(env.PINACLED_METRICS_TOKEN_FILE).mode & 0o777, 0o600, 'metrics token file is private');
      if (round === 1) {
        t.match(out, /created API token file/);
        const walk = await run('bash', ['-c', walkthrough(env.PINACLED_TOKEN_FILE, port)], {});
        t.equal(walk.code, 0, walk.out);
        t.match(walk.out, /"state":"running"/, 'the pod was created and runs');
        t.match(walk.out, /hello\n/, 'the pod served its page through the published port');
        t.match(walk.out, /"state":"stopped"/, 'stop answered with the stopped pod');
        t.match(walk.out, /204\n?$/, 'delete answered 204');
      } else {
        t.notMatch(out, /installing|created API token|compiling|registering runsc|starting dockerd/, 'the second run changed nothing');
      }
    } finally {
      if (!gone) up.kill('SIGTERM');
      await exited;
    }
  }
  t.equal(sha(daemonJson), before, 'daemon.json untouched on an already set-up host');
});

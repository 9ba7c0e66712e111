import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { disagreement, engineView, isClean, storeIdOf } from '../helpers/agreement.js';
import { eventually } from '../helpers/app.js';
import { realDaemon, ROOT, TEST_IMAGE } from '../helpers/daemon.js';
import { docker } from '../helpers/docker.js';

/**
 * Acceptance 5: a corrupt state database and a full data disk each give a clear error and lose
 * no data.
 */
const run = promisify(execFile);
const sleepPod = (name: string) => ({ name, template: 'custom', image: TEST_IMAGE, command: ['sleep', '3600'], resources: { memoryMb: 64 } });
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

/** Runs dist/main.js on a data dir until it exits; returns its exit code and output. */
function runDaemonOnce(dataDir: string, tokenFile: string, env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(ROOT, 'dist', 'main.js')], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PINACLED_DATA_DIR: dataDir, PINACLED_TOKEN_FILE: tokenFile, PINACLED_PORT: '0', PINACLED_HOST: '127.0.0.1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const killer = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, out });
    });
  });
}

t.test('a corrupt database: the daemon refuses to start, says why, and changes nothing', async (t) => {
  const d = await realDaemon(t);
  const pod = (await d.request('POST', '/v1/pods', sleepPod('precious'))).body;
  t.equal(pod.state, 'running');
  t.equal(await d.stop(), 0);
  const dataDir = join(d.dataDir, 'data');
  const file = join(dataDir, 'pinacled.db');
  const backup = join(d.dataDir, 'backup.db');
  copyFileSync(file, backup);
  // Garbage over the second page (the schema's first table pages sit right after the header page).
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 4096);
  closeSync(fd);
  const before = sha(file);

  const res = await runDaemonOnce(dataDir, join(d.dataDir, 'token'));
  t.equal(res.code, 74, 'exits with EX_IOERR');
  t.match(res.out, /cannot open the state database/);
  t.match(res.out, /pinacled\.db is unreadable or corrupt/, 'names the file and the problem');
  t.match(res.out, /Restore it from a backup, or move it aside/, 'says what to do');
  t.equal(sha(file), before, 'the file is left exactly as it was');
  t.equal(await docker('inspect', '-f', '{{.State.Running}}', `pinacle-pod-${pod.id}`), 'true', 'pods are not touched');

  // Restoring the file brings everything back.
  copyFileSync(backup, file);
  rmSync(`${file}-wal`, { force: true });
  rmSync(`${file}-shm`, { force: true });
  await d.restart();
  const again = await d.request('GET', `/v1/pods/${pod.id}`);
  t.equal(again.status, 200);
  t.equal(again.body.state, 'running', 'the pod is adopted again, still running');
  const firstLine = res.out.split('\n').find((l) => l.includes('unreadable or corrupt')) ?? '';
  t.comment(`corrupt db -> exit ${res.code}: ${firstLine.slice(0, 300)}`);
});

t.test('a full data disk: 503, no half-written pod, nothing lost once there is room again', async (t) => {
  const mnt = mkdtempSync(join(tmpdir(), 'pinacled-tmpfs-'));
  await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
  t.teardown(async () => {
    await run('umount', ['-l', mnt]).catch(() => undefined);
    rmSync(mnt, { recursive: true, force: true });
  });
  const dataDir = join(mnt, 'data');
  mkdirSync(dataDir);
  const d = await realDaemon(t, { PINACLED_DATA_DIR: dataDir, PINACLED_RECONCILE_INTERVAL_S: '2' });
  const view = engineView();
  const kept = (await d.request('POST', '/v1/pods', sleepPod('kept'))).body;
  t.equal(kept.state, 'running');
  const sid = await storeIdOf(view, kept.id);

  // Fill the disk.
  const filler = join(mnt, 'filler');
  const fd = openSync(filler, 'w');
  const chunk = Buffer.alloc(16 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    t.equal((err as NodeJS.ErrnoException).code, 'ENOSPC', 'the data disk is full');
  } finally {
    closeSync(fd);
  }

  const answers: number[] = [];
  let refused: { status: number; body: { code: string; detail: string } } | undefined;
  for (let i = 0; i < 8 && !refused; i++) {
    const r = await d.request('POST', '/v1/pods', sleepPod(`full-${i}`));
    answers.push(r.status);
    if (r.status === 503) refused = r as never;
    else t.equal(r.status, 201, `create on a full disk either works (SQLite had room in its WAL) or is refused: ${r.text}`);
  }
  t.ok(refused, `a create on the full disk is refused (answers: ${answers.join(', ')})`);
  t.equal(refused?.body.code, 'PINACLED_ERR_STORE_UNAVAILABLE');
  t.match(refused?.body.detail, /disk full or I\/O error/);
  const during = (await d.listPods()) as { name: string; state: string }[];
  t.notOk(during.some((p) => p.name === `full-${answers.length - 1}` && p.state !== 'creating'), 'the refused create is not a pod (at most a creating row to roll back)');
  t.equal(d.proc.exitCode, null, 'the daemon stays up');
  t.equal((await d.request('GET', `/v1/pods/${kept.id}`)).body.state, 'running', 'reads still answer');

  // Room again: the next passes roll back whatever the refused create left, nothing else changes.
  rmSync(filler);
  await eventually(async () => {
    const pods = await d.listPods();
    return isClean(await disagreement(view, sid, pods));
  }, 15_000, 500);
  const pods = (await d.listPods()) as { name: string }[];
  t.same(
    pods.map((p) => p.name).sort(),
    ['kept', ...answers.slice(0, -1).map((_, i) => `full-${i}`)].sort(),
    'exactly the acknowledged pods',
  );
  const after = await d.request('POST', '/v1/pods', sleepPod('after'));
  t.equal(after.status, 201, 'creates work again');
  // And all of it is on disk: a restart finds every acknowledged pod.
  await d.stop();
  await d.restart();
  const names = ((await d.listPods()) as { name: string }[]).map((p) => p.name).sort();
  t.same(names, [...pods.map((p) => p.name), 'after'].sort(), 'durable across a restart');
  t.ok(statSync(join(dataDir, 'pinacled.db')).size > 0);
  t.comment(`full disk (1 MB tmpfs): creates answered ${answers.join(', ')}; the refusal: ${refused?.body.code}`);
});

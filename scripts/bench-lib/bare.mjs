import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './fixtures.mjs';
import { sleep } from './stats.mjs';

/** Starts bare-fastify.mjs serving `pod` (an object); returns { url, pid, stop }. */
export async function startBareFastify(pod) {
  const dir = mkdtempSync(join(tmpdir(), 'pinacled-bench-bare-'));
  const file = join(dir, 'pod.json');
  writeFileSync(file, JSON.stringify(pod));
  const proc = spawn(process.execPath, [join(ROOT, 'scripts', 'bench-lib', 'bare-fastify.mjs'), file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.on('data', (b) => (out += b));
  const t0 = Date.now();
  while (!/^\d+\n/.test(out)) {
    if (proc.exitCode !== null || Date.now() - t0 > 20_000) throw new Error('bare fastify did not start');
    await sleep(20);
  }
  return {
    url: `http://127.0.0.1:${out.trim()}`,
    pid: proc.pid,
    async stop() {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { engineNofileHard, hardLimit } from '../../src/config/host-limits.js';
import { NOFILE_LIMIT, podNofile } from '../../src/pods/spec.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max processes             unlimited            unlimited            processes
Max open files            1024                 20000                files
Max locked memory         8388608              8388608              bytes
`;

t.test('the hard limit of a /proc/<pid>/limits row', async (t) => {
  t.equal(hardLimit(LIMITS, 'Max open files'), 20000);
  t.equal(hardLimit(LIMITS, 'Max processes'), Number.POSITIVE_INFINITY);
  t.equal(hardLimit(LIMITS, 'Max nothing'), undefined);
});

t.test("the engine's limit is read through its pid file; unreadable means unknown", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pinacled-limits-'));
  writeFileSync(join(dir, 'self.pid'), `${process.pid}\n`);
  const own = (await import('node:fs')).readFileSync('/proc/self/limits', 'utf8');
  t.equal(engineNofileHard(join(dir, 'self.pid')), hardLimit(own, 'Max open files'));
  t.equal(engineNofileHard(join(dir, 'missing.pid')), undefined);
  writeFileSync(join(dir, 'junk.pid'), 'not a pid');
  t.equal(engineNofileHard(join(dir, 'junk.pid')), undefined);
});

t.test('runc pods are clamped to the engine limit; gVisor pods are not', async (t) => {
  t.equal(podNofile('runc', 20000), 20000);
  t.equal(podNofile('runc', 1_048_576), NOFILE_LIMIT);
  t.equal(podNofile('runc', undefined), NOFILE_LIMIT, 'unknown: unchanged');
  t.equal(podNofile('runsc', 20000), NOFILE_LIMIT, 'gVisor sets any limit inside the sandbox');
  t.equal(podNofile('runsc-ptrace', 1024), NOFILE_LIMIT);
});

import t from 'tap';
import { realDaemon, TEST_IMAGE, type RealDaemon } from '../helpers/daemon.js';


async function pod(d: RealDaemon, body: Record<string, unknown>) {
  const res = await d.request('POST', '/v1/pods', body);
  if (res.status !== 201) throw new Error(`create: ${res.status} ${res.text}`);
  return res.body as { id: string };
}

const run = (d: RealDaemon, id: string, body: Record<string, unknown>) => d.request('POST', `/v1/pods/${id}/exec`, body);

t.test('exec in a gVisor pod (busybox)', async (t) => {
  const d = await realDaemon(t);
  const p = await pod(d, { name: 'exec-box', template: 'custom', image: TEST_IMAGE, command: ['sleep', '3600'], resources: { memoryMb: 256 } });

  const uname = await run(d, p.id, { command: ['uname', '-r'] });
  t.equal(uname.status, 200, uname.text);
  t.equal(uname.body.stdout, '4.4.0\n', 'runs inside gVisor');
  t.equal(uname.body.exitCode, 0);

  const mixed = await run(d, p.id, { command: ['sh', '-c', 'echo out; echo err >&2; exit 7'] });
  t.same([mixed.body.stdout, mixed.body.stderr, mixed.body.exitCode, mixed.body.truncated], ['out\n', 'err\n', 7, false]);

  // 3 MB on each stream: 1 MiB kept of each, exact bytes, exit code exact.
  const big = await run(d, p.id, { command: ['sh', '-c', 'head -c 3000000 /dev/zero | tr "\\0" a; head -c 3000000 /dev/zero | tr "\\0" b >&2; exit 3'] });
  t.equal(big.status, 200);
  t.equal(big.body.stdout.length, 1024 * 1024);
  t.equal(big.body.stdout, 'a'.repeat(1024 * 1024));
  t.equal(big.body.stderr, 'b'.repeat(1024 * 1024));
  t.equal(big.body.truncated, true);
  t.equal(big.body.exitCode, 3);

  const stdin = 'line one\nline two ✓\n'.repeat(1000);
  const cat = await run(d, p.id, { command: ['cat'], stdin });
  t.equal(cat.body.stdout, stdin, 'stdin round trip');
  const env = await run(d, p.id, { command: ['sh', '-c', 'echo "$GREETING" && pwd'], env: { GREETING: 'hi there' }, workdir: '/tmp' });
  t.equal(env.body.stdout, 'hi there\n/tmp\n');

  const slow = await run(d, p.id, { command: ['sh', '-c', 'sleep 100 & sleep 100'], timeoutS: 2 });
  t.equal(slow.body.timedOut, true);
  t.ok(slow.body.durationMs >= 2000 && slow.body.durationMs < 6000, `about 2 s (${slow.body.durationMs} ms)`);
  // busybox `sleep` as PID 1 does not reap, so killed orphans may linger as zombies (Z): no
  // process of the command is left *running*.
  const ps = await run(d, p.id, { command: ['ps', '-o', 'pid,stat,args'] });
  const live = ps.body.stdout.split('\n').filter((l: string) => /sleep 100/.test(l) && !/\sZ\s/.test(l));
  t.same(live, [], `no sleep left: ${ps.body.stdout}`);

  const badUser = await run(d, p.id, { command: ['true'], user: 'nosuchuser' });
  t.equal(badUser.status, 400, badUser.text);
  t.equal(badUser.body.errors?.[0]?.field, 'user');
  const badDir = await run(d, p.id, { command: ['true'], workdir: '/no/such/dir' });
  t.equal(badDir.status, 400, badDir.text);
  t.equal(badDir.body.errors?.[0]?.field, 'workdir');
  const missing = await run(d, p.id, { command: ['/no/such/program'] });
  t.equal(missing.status, 200);
  t.not(missing.body.exitCode, 0);

  t.equal((await d.request('POST', `/v1/pods/${p.id}/stop`)).status, 200);
  const stopped = await run(d, p.id, { command: ['true'] });
  t.equal(stopped.status, 409);
  t.equal(stopped.body.code, 'PINACLED_ERR_POD_NOT_RUNNING');
});

t.test('exec in the base image: dev in /workspace, timeout leaves nothing', async (t) => {
  const d = await realDaemon(t);
  const p = await pod(d, { name: 'exec-base', template: 'base' });
  const who = await run(d, p.id, { command: ['sh', '-c', 'id -un; pwd'] });
  t.equal(who.status, 200, who.text);
  t.equal(who.body.stdout, 'dev\n/workspace\n');
  const slow = await run(d, p.id, { command: ['sh', '-c', 'sleep 100 & sleep 100'], timeoutS: 2 });
  t.equal(slow.body.timedOut, true);
  const ps = await run(d, p.id, { command: ['ps', '-eo', 'pid,stat,args'] });
  t.notMatch(ps.body.stdout, /sleep 100/, `no sleep left, not even a zombie (tini reaps): ${ps.body.stdout}`);
});

import t from 'tap';
import { auth, eventually, fakeDaemon, type TestDaemon } from '../helpers/app.js';

const custom = { name: 'box', template: 'custom', image: 'pinacled/testbox:1', command: ['sleep', '3600'] };

async function runningPod(d: TestDaemon, body: Record<string, unknown> = custom) {
  const r = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: body });
  if (r.statusCode !== 201) throw new Error(`create: ${r.body}`);
  return r.json();
}

const exec = (d: TestDaemon, id: string, payload: unknown, headers: Record<string, string> = {}) =>
  d.app.inject({ method: 'POST', url: `/v1/pods/${id}/exec`, headers: { ...auth, ...headers }, payload: payload as object });

t.test('one-shot exec: output, exit code, stdin, defaults', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await runningPod(d);
  const r = await exec(d, pod.id, { command: ['echo', 'hello', 'world'] });
  t.equal(r.statusCode, 200, r.body);
  const b = r.json();
  t.same({ exitCode: b.exitCode, stdout: b.stdout, stderr: b.stderr, truncated: b.truncated, timedOut: b.timedOut }, { exitCode: 0, stdout: 'hello world\n', stderr: '', truncated: false, timedOut: false });
  t.type(b.durationMs, 'number');
  const rec = d.runtime.execs.records.at(-1)!;
  t.same(rec.command, ['echo', 'hello', 'world'], 'the command runs under the wrapper');
  t.equal(rec.cmd[3], 'pinacled-exec');
  t.equal(rec.opts.user, null, 'a custom image keeps its own user');
  t.equal(rec.opts.workdir, null);

  const cat = await exec(d, pod.id, { command: ['cat'], stdin: 'round trip ✓\n', env: { A: 'b' }, user: 'root', workdir: '/tmp' });
  t.equal(cat.json().stdout, 'round trip ✓\n');
  const rec2 = d.runtime.execs.records.at(-1)!;
  t.same([rec2.opts.user, rec2.opts.workdir, rec2.opts.env, rec2.opts.stdin], ['root', '/tmp', { A: 'b' }, true]);
  t.equal((await exec(d, pod.id, { command: ['false'] })).json().exitCode, 1);
  t.equal((await exec(d, pod.id, { command: ['nope'] })).json().exitCode, 127);

  d.runtime.images.add('pinacled/base:0.1.0');
  const base = await runningPod(d, { name: 'dev', template: 'base' });
  await exec(d, base.id, { command: ['true'] });
  const rec3 = d.runtime.execs.records.at(-1)!;
  t.same([rec3.opts.user, rec3.opts.workdir], ['dev', '/workspace'], 'pinacled images run commands as dev in /workspace');
});

t.test('one-shot exec: output is bounded per stream', async (t) => {
  const d = await fakeDaemon(t, { PINACLED_EXEC_MAX_OUTPUT_BYTES: '4096' });
  const pod = await runningPod(d);
  const b = (await exec(d, pod.id, { command: ['fill', '100000'] })).json();
  t.equal(b.stdout, 'x'.repeat(4096));
  t.equal(b.stderr, 'y'.repeat(4096));
  t.equal(b.truncated, true);
  t.equal(b.exitCode, 0, 'the command ran to its end');
});

t.test('one-shot exec: the deadline kills the command', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await runningPod(d);
  const b = (await exec(d, pod.id, { command: ['sleep', '100'], timeoutS: 1 })).json();
  t.equal(b.timedOut, true);
  t.equal(b.exitCode, 137);
  t.ok(b.durationMs >= 900 && b.durationMs < 5000, `about 1 s (${b.durationMs} ms)`);
  const kills = d.runtime.execs.records.filter((r) => r.cmd[3] === 'pinacled-kill');
  t.equal(kills.length, 1, 'the wrapper kill ran');
  t.equal(kills[0]!.cmd[4], d.runtime.execs.records.find((r) => r.command[0] === 'sleep')!.cmd[4], 'for the pid file of that exec');
  const wrapped = d.runtime.execs.records.find((r) => r.command[0] === 'sleep')!;
  t.ok(Number(wrapped.cmd[5]) > 1, 'the in-pod watchdog carries the deadline too');
  await eventually(() => d.runtime.execs.running.length === 0);
});

t.test('one-shot exec: a client that goes away kills the command', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await runningPod(d);
  const addr = await d.app.listen({ host: '127.0.0.1', port: 0 });
  const ac = new AbortController();
  const req = fetch(`${addr}/v1/pods/${pod.id}/exec`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ command: ['sleep', '100'] }), signal: ac.signal }).catch(() => undefined);
  await eventually(() => d.runtime.execs.running.length === 1);
  ac.abort();
  await req;
  await eventually(() => d.runtime.execs.records.some((r) => r.cmd[3] === 'pinacled-kill') && d.runtime.execs.running.length === 0);
  t.pass('killed');
});

t.test('one-shot exec: errors are coded problems naming the field', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await runningPod(d);
  const cases: [unknown, string][] = [
    [{ command: [] }, 'command'],
    [{ command: [''] }, 'command'],
    [{}, 'command'],
    [{ command: ['true'], user: 'bad user!' }, 'user'],
    [{ command: ['true'], workdir: 'relative' }, 'workdir'],
    [{ command: ['true'], workdir: '/a/../b' }, 'workdir'],
    [{ command: ['true'], stdin: 'x'.repeat(1024 * 1024 + 1) }, 'stdin'],
    [{ command: ['true'], timeoutS: 0 }, 'timeoutS'],
    [{ command: ['true'], env: { 'A-B': 'x' } }, 'env'],
    [{ command: ['true'], privileged: true }, ''],
  ];
  for (const [payload, field] of cases) {
    const r = await exec(d, pod.id, payload);
    t.equal(r.statusCode, 400, JSON.stringify(payload).slice(0, 60));
    t.equal(r.json().code, 'PINACLED_ERR_VALIDATION');
    t.ok(r.json().errors.some((e: { field: string }) => e.field.startsWith(field)), `${field}: ${JSON.stringify(r.json().errors)}`);
  }
  const missing = await exec(d, 'nope', { command: ['true'] });
  t.equal(missing.statusCode, 404);
  t.equal(missing.json().code, 'PINACLED_ERR_POD_NOT_FOUND');
  d.runtime.failNext('exec');
  const down = await exec(d, pod.id, { command: ['true'] });
  t.equal(down.statusCode, 503);
  t.equal(down.json().code, 'PINACLED_ERR_ENGINE_UNAVAILABLE');
  t.equal((await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/stop`, headers: auth })).statusCode, 200);
  const stopped = await exec(d, pod.id, { command: ['true'] });
  t.equal(stopped.statusCode, 409);
  t.equal(stopped.json().code, 'PINACLED_ERR_POD_NOT_RUNNING');
  const noAuth = await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/exec`, payload: { command: ['true'] } });
  t.equal(noAuth.statusCode, 401);
});

t.test('one-shot exec honours Idempotency-Key', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await runningPod(d);
  const first = await exec(d, pod.id, { command: ['echo', 'once'] }, { 'idempotency-key': 'exec-1' });
  const again = await exec(d, pod.id, { command: ['echo', 'once'] }, { 'idempotency-key': 'exec-1' });
  t.equal(again.statusCode, 200);
  t.equal(again.headers['idempotent-replayed'], 'true');
  t.same(again.json(), first.json());
  t.equal(d.runtime.execs.records.filter((r) => r.command[0] === 'echo').length, 1, 'ran once');
  const other = await exec(d, pod.id, { command: ['echo', 'twice'] }, { 'idempotency-key': 'exec-1' });
  t.equal(other.statusCode, 422);
});

t.test('an exec counts as activity on its pod (idle auto-stop reads it)', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await runningPod(d);
  const other = await runningPod(d, { ...custom, name: 'other' });
  t.equal(d.activity.lastKind(pod.id), undefined, 'no activity before the first exec');
  const before = Date.now();
  await exec(d, pod.id, { command: ['true'] });
  t.equal(d.activity.lastKind(pod.id), 'exec');
  t.ok(d.activity.lastAt(pod.id) >= before, 'the clock moved to the exec');
  t.equal(d.activity.lastKind(other.id), undefined, 'another pod is untouched');
  const del = await d.app.inject({ method: 'DELETE', url: `/v1/pods/${pod.id}`, headers: auth });
  t.equal(del.statusCode, 204, del.body);
  t.equal(d.activity.lastKind(pod.id), undefined, 'a deleted pod is forgotten');
});

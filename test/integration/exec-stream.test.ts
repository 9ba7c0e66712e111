import t from 'tap';
import { eventually } from '../helpers/app.js';
import { realDaemon, TEST_IMAGE, type RealDaemon } from '../helpers/daemon.js';
import { connect, execOutput, type WsCapture } from '../helpers/ws.js';

async function pod(d: RealDaemon, body: Record<string, unknown>) {
  const res = await d.request('POST', '/v1/pods', body);
  if (res.status !== 201) throw new Error(`create: ${res.status} ${res.text}`);
  return res.body as { id: string; containerName: string };
}

/** Opens the pod's exec stream and sends the first message. */
async function stream(d: RealDaemon, id: string, first: Record<string, unknown>): Promise<WsCapture> {
  const c = await connect(`ws://127.0.0.1:${d.port}/v1/pods/${id}/exec/stream`, { headers: { authorization: `Bearer ${d.token}` } });
  c.ws.send(JSON.stringify(first));
  return c;
}

const text = (c: WsCapture, n: number) => execOutput(c.binary, n).toString('latin1');

/** Processes of the pod running `pattern` (zombies left by busybox's non-reaping PID 1 excluded). */
async function live(d: RealDaemon, id: string, pattern: RegExp): Promise<string[]> {
  const ps = await d.request('POST', `/v1/pods/${id}/exec`, { command: ['ps', '-o', 'pid,stat,args'] });
  return (ps.body.stdout as string).split('\n').filter((l) => pattern.test(l) && !/\sZ\s/.test(l));
}

t.test('streaming exec in a gVisor pod (busybox)', async (t) => {
  const d = await realDaemon(t);
  const p = await pod(d, { name: 'stream-box', template: 'custom', image: TEST_IMAGE, command: ['sleep', '3600'], resources: { memoryMb: 256 } });

  const uname = await stream(d, p.id, { command: ['uname', '-r'] });
  t.equal((await uname.closed).code, 1000);
  t.equal(text(uname, 1), '4.4.0\n', 'streams from inside gVisor');
  t.same(uname.msgs, [{ type: 'exit', exitCode: 0, timedOut: false }]);

  // Exact bytes on both streams, NUL and 0xff included, and more than one engine chunk each.
  const mixed = await stream(d, p.id, { command: ['sh', '-c', "printf 'out\\000\\377'; printf 'err' >&2; head -c 300000 /dev/zero | tr '\\0' a; head -c 200000 /dev/zero | tr '\\0' b >&2; exit 3"] });
  t.equal((await mixed.closed).code, 1000);
  t.ok(mixed.binary.every((f) => f[0] === 1 || f[0] === 2), 'every data message has a stream byte');
  t.equal(text(mixed, 1), `out\u0000\u00ff${'a'.repeat(300000)}`, 'stdout exact, prefix 1');
  t.equal(text(mixed, 2), `err${'b'.repeat(200000)}`, 'stderr exact, prefix 2');
  t.same(mixed.msgs, [{ type: 'exit', exitCode: 3, timedOut: false }]);

  const cat = await stream(d, p.id, { command: ['cat'] });
  const input = Buffer.from('line one\nline two ✓\n'.repeat(5000));
  for (let i = 0; i < input.length; i += 16 * 1024) cat.ws.send(input.subarray(i, i + 16 * 1024));
  await cat.untilBinary((f) => execOutput(f, 1).length >= input.length, 30_000);
  t.same(cat.msgs, [], 'cat still runs: stdin is open');
  cat.ws.send(JSON.stringify({ type: 'eof' }));
  t.equal((await cat.closed).code, 1000);
  t.ok(execOutput(cat.binary, 1).equals(input), `stdin round trip (${input.length} bytes)`);
  t.same(cat.msgs, [{ type: 'exit', exitCode: 0, timedOut: false }], 'eof ended cat');

  const tty = await stream(d, p.id, { command: ['sh'], tty: true, cols: 80, rows: 24 });
  tty.ws.send(JSON.stringify({ type: 'resize', cols: 120, rows: 40 }));
  // The resize is asynchronous: ask until the shell sees it.
  await eventually(async () => {
    tty.ws.send(Buffer.from('stty size\n'));
    await tty.untilBinary(() => /40 120/.test(text(tty, 1)), 1500);
    return true;
  }, 20_000, 0).catch((err: Error) => t.fail(`${err.message}: ${JSON.stringify(text(tty, 1).slice(-600))}; ${d.output().slice(-1500)}`));
  t.match(text(tty, 1), /40 120\r?\n/, 'stty size sees the resize');
  t.ok(tty.binary.every((f) => f[0] === 1), 'a TTY has one stream, prefix 1');
  tty.ws.send(Buffer.from('exit 5\n'));
  t.equal((await tty.closed).code, 1000);
  t.same(tty.msgs, [{ type: 'exit', exitCode: 5, timedOut: false }]);

  const badUser = await stream(d, p.id, { command: ['true'], user: 'nosuchuser' });
  t.equal((await badUser.closed).code, 4400);
  t.match(badUser.msgs, [{ type: 'error', code: 'PINACLED_ERR_VALIDATION', errors: [{ field: 'user' }] }]);

  // Closing the socket kills the command and what it started.
  const sleeper = await stream(d, p.id, { command: ['sh', '-c', 'sleep 100 & sleep 100'] });
  await eventually(async () => (await live(d, p.id, /^\s*\d+\s+\S+\s+sleep 100$/)).length === 2, 20_000, 200);
  sleeper.ws.close();
  t.equal((await sleeper.closed).code, 1005, 'the client closed it');
  await eventually(async () => (await live(d, p.id, /^\s*\d+\s+\S+\s+sleep 100$/)).length === 0, 20_000, 200);
  t.same(await live(d, p.id, /^\s*\d+\s+\S+\s+sleep 100$/), [], 'no sleep left in the pod');

  t.equal((await d.request('POST', `/v1/pods/${p.id}/stop`)).status, 200);
  const refused = await connect(`ws://127.0.0.1:${d.port}/v1/pods/${p.id}/exec/stream`, { headers: { authorization: `Bearer ${d.token}` } }).catch((e: { status: number; body: string }) => e);
  t.equal((refused as { status: number }).status, 409);
  t.equal(JSON.parse((refused as { body: string }).body).code, 'PINACLED_ERR_POD_NOT_RUNNING');
});

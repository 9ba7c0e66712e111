import { readFileSync } from 'node:fs';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { pointer, validateAt, type OpenApiDoc } from '../contract/validate-response.js';
import { auth, eventually, fakeDaemon, OPENAPI_PATH, TEST_TOKEN, type TestDaemon } from '../helpers/app.js';
import { connect, execOutput, type WsCapture } from '../helpers/ws.js';

const doc = parseYaml(readFileSync(OPENAPI_PATH, 'utf8')) as OpenApiDoc;
/** Every JSON message a server sent in this file, checked against openapi.yaml at the end. */
const seen: unknown[] = [];

const custom = { name: 'box', template: 'custom', image: 'pinacled/testbox:1', command: ['sleep', '3600'] };

async function runningPod(d: TestDaemon) {
  const r = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom });
  if (r.statusCode !== 201) throw new Error(`create: ${r.body}`);
  return r.json() as { id: string; containerId: string };
}

const bases = new WeakMap<TestDaemon, Promise<string>>();
function base(d: TestDaemon): Promise<string> {
  if (!bases.has(d)) bases.set(d, d.app.listen({ host: '127.0.0.1', port: 0 }).then((a) => a.replace(/^http/, 'ws')));
  return bases.get(d)!;
}

/** Opens the exec stream of a pod (real loopback sockets: see logs.test.ts) and sends `first`. */
async function open(d: TestDaemon, id: string, first?: unknown, o: { headers?: Record<string, string>; protocols?: string[] } = { headers: auth }): Promise<WsCapture> {
  const c = await connect(`${await base(d)}/v1/pods/${id}/exec/stream`, o);
  c.ws.on('message', (data, isBinary) => void (isBinary || seen.push(JSON.parse(String(data)))));
  if (first !== undefined) c.ws.send(typeof first === 'string' || Buffer.isBuffer(first) ? first : JSON.stringify(first), { binary: Buffer.isBuffer(first) });
  return c;
}

const kills = (d: TestDaemon) => d.runtime.execs.records.filter((r) => r.cmd[3] === 'pinacled-kill');
const user = (d: TestDaemon) => d.runtime.execs.records.filter((r) => r.cmd[3] === 'pinacled-exec');

t.test('exec stream: output with stream prefixes, then exit and close 1000', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await runningPod(d);
  const c = await open(d, pod.id, { command: ['fill', '70000'] });
  const closed = await c.closed;
  t.equal(closed.code, 1000);
  t.same(c.msgs, [{ type: 'exit', exitCode: 0, timedOut: false }], 'one control message, the exit');
  t.ok(c.binary.every((f) => f[0] === 1 || f[0] === 2), 'every data message starts with its stream byte');
  t.ok(execOutput(c.binary, 1).equals(Buffer.alloc(70000, 'x')), 'stdout exact (prefix 1)');
  t.ok(execOutput(c.binary, 2).equals(Buffer.alloc(70000, 'y')), 'stderr exact (prefix 2)');
  const rec = user(d)[0]!;
  t.same(rec.command, ['fill', '70000'], 'under the wrapper');
  t.same([rec.opts.tty, rec.opts.stdin], [false, true]);

  const bad = await open(d, pod.id, { command: ['false'] });
  t.equal((await bad.closed).code, 1000);
  t.same(bad.msgs, [{ type: 'exit', exitCode: 1, timedOut: false }], 'a nonzero exit is an exit, not an error');

  const opts = await open(d, pod.id, { command: ['true'], env: { A: 'b' }, user: 'root', workdir: '/tmp', timeoutS: 30 });
  await opts.closed;
  const r2 = user(d).at(-1)!;
  t.same([r2.opts.user, r2.opts.workdir, r2.opts.env], ['root', '/tmp', { A: 'b' }]);
  t.equal(r2.cmd[5], '35', 'the in-pod watchdog carries timeoutS (+5 s grace)');
});

t.test('exec stream: the browser subprotocols work as on the log stream', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await runningPod(d);
  const c = await open(d, pod.id, { command: ['echo', 'hi'] }, { protocols: ['pinacled.v1', `bearer.${TEST_TOKEN}`] });
  t.equal(c.ws.protocol, 'pinacled.v1');
  t.equal((await c.closed).code, 1000);
  t.equal(execOutput(c.binary, 1).toString(), 'hi\n');
});

t.test('exec stream: stdin round trip, then eof ends the command', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await runningPod(d);
  const c = await open(d, pod.id, { command: ['cat'] });
  // Sent at once, before the command has started: nothing is lost or reordered.
  const parts = ['one ', 'two ✓ ', Buffer.alloc(60_000, 'z').toString(), ' end'];
  for (const p of parts) c.ws.send(Buffer.from(p));
  const all = Buffer.from(parts.join(''));
  await c.untilBinary((f) => execOutput(f, 1).length >= all.length);
  t.ok(execOutput(c.binary, 1).equals(all), 'stdout is stdin, byte for byte');
  t.same(c.msgs, [], 'no exit before eof');
  c.ws.send(JSON.stringify({ type: 'eof' }));
  t.equal((await c.closed).code, 1000);
  t.same(c.msgs, [{ type: 'exit', exitCode: 0, timedOut: false }]);
  t.same(kills(d), [], 'a command that ended by itself is not killed');
});

t.test('exec stream: data after eof is a protocol error (4400) and kills the command', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await runningPod(d);
  d.runtime.execs.programs.set('readall', ({ input }) => input.resume());
  const c = await open(d, pod.id, { command: ['readall'] });
  await eventually(() => d.runtime.execs.running.length === 1);
  c.ws.send(JSON.stringify({ type: 'eof' }));
  c.ws.send(Buffer.from('late'));
  const closed = await c.closed;
  t.equal(closed.code, 4400);
  t.match(c.msgs, [{ type: 'error', code: 'PINACLED_ERR_VALIDATION', status: 400 }]);
  await eventually(() => kills(d).length === 1 && d.runtime.execs.running.length === 0);
});

t.test('exec stream: tty, its size, resize messages', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await runningPod(d);
  const c = await open(d, pod.id, { command: ['sh'], tty: true, cols: 80, rows: 24 });
  await eventually(() => user(d)[0]?.sizes.length === 1);
  const rec = user(d)[0]!;
  t.same([rec.opts.tty, rec.opts.stdin], [true, true]);
  t.same(rec.sizes, [{ cols: 80, rows: 24 }], 'the first message size is applied at start');
  c.ws.send(JSON.stringify({ type: 'resize', cols: 120, rows: 40 }));
  await eventually(() => rec.sizes.length === 2);
  t.same(rec.sizes[1], { cols: 120, rows: 40 });
  c.ws.send(Buffer.from('ls\r'));
  await c.untilBinary((f) => execOutput(f, 1).toString() === 'ls\r');
  t.ok(c.binary.every((f) => f[0] === 1), 'a TTY has one stream: prefix 1');
  c.ws.send(JSON.stringify({ type: 'resize', cols: 0, rows: 40 }));
  t.equal((await c.closed).code, 4400, 'a bad resize is a protocol error');
  t.equal(c.msgs[0].errors[0].field, 'cols');
  await eventually(() => kills(d).length === 1 && d.runtime.execs.running.length === 0);
});

t.test('exec stream: a bad first message is an error message naming the field, then close 4400', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await runningPod(d);
  const cases: [unknown, string][] = [
    [Buffer.from('{"command":["true"]}'), '(message)'],
    ['not json', '(message)'],
    [{}, 'command'],
    [{ command: [] }, 'command'],
    [{ command: [''] }, 'command'],
    [{ command: ['true'], user: 'bad user!' }, 'user'],
    [{ command: ['true'], workdir: 'relative' }, 'workdir'],
    [{ command: ['true'], workdir: '/a/../b' }, 'workdir'],
    [{ command: ['true'], env: { 'A-B': 'x' } }, 'env'],
    [{ command: ['true'], timeoutS: 0 }, 'timeoutS'],
    [{ command: ['true'], stdin: 'x' }, 'stdin'],
    [{ command: ['true'], tty: 'yes' }, 'tty'],
    [{ command: ['true'], cols: 80, rows: 24 }, 'tty'],
    [{ command: ['true'], tty: true, cols: 80 }, 'cols'],
    [{ command: ['true'], tty: true, cols: 80, rows: 100000 }, 'rows'],
  ];
  for (const [first, field] of cases) {
    const c = await open(d, pod.id, first);
    const closed = await c.closed;
    const label = Buffer.isBuffer(first) ? 'binary first message' : JSON.stringify(first).slice(0, 60);
    t.equal(closed.code, 4400, label);
    t.equal(closed.reason, 'PINACLED_ERR_VALIDATION');
    t.equal(c.msgs.length, 1);
    t.match(c.msgs[0], { type: 'error', code: 'PINACLED_ERR_VALIDATION', status: 400, title: String, detail: String });
    t.ok(c.msgs[0].errors?.some((e: { field: string }) => e.field.startsWith(field)), `${field}: ${JSON.stringify(c.msgs[0].errors)}`);
  }
  t.equal(d.runtime.execs.records.length, 0, 'nothing was started');
});

t.test('exec stream: no first message within 10 s is 4408', { timeout: 30_000 }, async (t) => {
  const d = await fakeDaemon(t);
  const pod = await runningPod(d);
  const started = Date.now();
  const c = await open(d, pod.id);
  const closed = await c.closed;
  t.equal(closed.code, 4408);
  t.match(c.msgs, [{ type: 'error', code: 'PINACLED_ERR_REQUEST_TIMEOUT', status: 408 }]);
  t.ok(closed.at - started >= 9500, `after about 10 s (${closed.at - started} ms)`);
  t.equal(d.runtime.execs.records.length, 0);
});

t.test('exec stream: refusals before the upgrade are problems (404, 409, 503, 401, 400, 426)', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await runningPod(d);
  const refused = async (id: string, o?: { headers?: Record<string, string>; protocols?: string[] }) => {
    const err = await open(d, id, undefined, o).then(
      (c) => {
        c.ws.terminate();
        return undefined;
      },
      (e: { status: number; body: string }) => e,
    );
    return err ? { status: err.status, body: JSON.parse(err.body) } : { status: 101, body: {} };
  };
  const missing = await refused('nope');
  t.same([missing.status, missing.body.code], [404, 'PINACLED_ERR_POD_NOT_FOUND']);
  t.same([(await refused(pod.id, {})).status], [401], 'no token');
  const proto = await refused(pod.id, { headers: auth, protocols: ['other'] });
  t.same([proto.status, proto.body.errors[0].field], [400, 'sec-websocket-protocol']);
  const plain = await d.app.inject({ url: `/v1/pods/${pod.id}/exec/stream`, headers: auth });
  t.same([plain.statusCode, plain.json().code], [426, 'PINACLED_ERR_UPGRADE_REQUIRED']);

  const other = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { ...custom, name: 'other' } });
  const stop = await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/stop`, headers: auth });
  t.equal(stop.statusCode, 200, stop.body);
  const stopped = await refused(pod.id);
  t.same([stopped.status, stopped.body.code], [409, 'PINACLED_ERR_POD_NOT_RUNNING']);
  d.runtime.down = true;
  await d.engine.check();
  const down = await refused(other.json().id);
  t.same([down.status, down.body.code], [503, 'PINACLED_ERR_ENGINE_UNAVAILABLE']);
  t.match(down.body, { type: String, title: String, status: 503 }, 'problem+json');

  t.equal(d.runtime.execs.records.length, 0, 'nothing was started');
});

t.test('exec stream: problems after the upgrade end it with 4000 + status', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await runningPod(d);
  d.runtime.failNext('exec');
  const down = await open(d, pod.id, { command: ['true'] });
  t.equal((await down.closed).code, 4503);
  t.match(down.msgs, [{ type: 'error', code: 'PINACLED_ERR_ENGINE_UNAVAILABLE', status: 503 }]);

  d.runtime.execs.programs.set('nouser', ({ err, exit }) => {
    err.write('unable to find user nosuchuser: no matching entries in passwd file\n');
    exit(126);
  });
  const nouser = await open(d, pod.id, { command: ['nouser'] });
  t.equal((await nouser.closed).code, 4400, 'an engine start failure is the request fault');
  t.equal(nouser.msgs[0].errors[0].field, 'user');

  const late = await open(d, pod.id);
  t.equal((await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/stop`, headers: auth })).statusCode, 200);
  late.ws.send(JSON.stringify({ command: ['true'] }));
  t.equal((await late.closed).code, 4409, 'the pod stopped between the upgrade and the first message');
  t.match(late.msgs, [{ type: 'error', code: 'PINACLED_ERR_POD_NOT_RUNNING', status: 409 }]);
});

t.test('exec stream: the deadline kills the command and says timedOut', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await runningPod(d);
  const c = await open(d, pod.id, { command: ['sleep', '100'], timeoutS: 1 });
  const closed = await c.closed;
  t.equal(closed.code, 1000);
  t.same(c.msgs, [{ type: 'exit', exitCode: 137, timedOut: true }]);
  t.equal(kills(d).length, 1);
});

t.test('exec stream: closing the socket kills the command and everything it started', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await runningPod(d);
  const c = await open(d, pod.id, { command: ['sleep', '100'] });
  await eventually(() => d.runtime.execs.running.length === 1);
  c.ws.close();
  await eventually(() => kills(d).length === 1 && d.runtime.execs.running.length === 0);
  t.equal(kills(d)[0]!.cmd[4], user(d)[0]!.cmd[4], 'the kill of that exec (its pid file)');
});

t.test('exec stream: a client that does not read is dropped with 4001 and its command killed', async (t) => {
  const d = await fakeDaemon(t, { PINACLED_WS_MAX_BUFFER_BYTES: String(1024 * 1024) });
  const pod = await runningPod(d);
  let written = 0;
  d.runtime.execs.programs.set('flood', ({ out, record }) => {
    const chunk = Buffer.alloc(64 * 1024, 'f');
    const step = () => {
      if (!record.running) return;
      out.write(chunk);
      written += chunk.length;
      setImmediate(step);
    };
    step();
  });
  const c = await open(d, pod.id, { command: ['flood'] });
  c.ws.pause();
  await eventually(() => kills(d).length === 1 && d.runtime.execs.running.length === 0, 20_000);
  c.ws.resume();
  const closed = await c.closed;
  t.equal(closed.code, 4001);
  t.equal(closed.reason, 'slow consumer');
  t.same(c.msgs, [], 'a dropped client gets no exit message');
  t.ok(written > 1024 * 1024, `the command wrote ${written} bytes before it was killed`);
});

t.test('exec stream: daemon shutdown kills the commands of open streams', async (t) => {
  const d = await fakeDaemon(t);
  const pod = await runningPod(d);
  const c = await open(d, pod.id, { command: ['sleep', '100'] });
  await eventually(() => d.runtime.execs.running.length === 1);
  await d.close();
  t.equal(kills(d).length, 1, 'killed before close() resolved');
  t.equal((await c.closed).code, 1001);
});

t.test('exec stream: every server message seen here is an ExecStreamServerMessage of openapi.yaml', async (t) => {
  t.ok(seen.length > 20, `${seen.length} messages`);
  for (const m of seen) t.same(validateAt(doc, pointer('components', 'schemas', 'ExecStreamServerMessage'), m).errors, [], JSON.stringify(m).slice(0, 80));
  const starts = [{ command: ['sh'], tty: true, cols: 120, rows: 40 }, { command: ['true'], env: { A: 'b' }, user: 'root', workdir: '/tmp', timeoutS: 30 }];
  for (const m of starts) t.same(validateAt(doc, pointer('components', 'schemas', 'ExecStreamStart'), m).errors, [], 'a first message the tests send is documented');
  for (const m of [{ type: 'resize', cols: 120, rows: 40 }, { type: 'eof' }]) t.same(validateAt(doc, pointer('components', 'schemas', 'ExecStreamControl'), m).errors, [], `${m.type} is documented`);
});

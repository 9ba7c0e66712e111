import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { createDaemon } from '../../src/daemon.js';
import { fingerprint } from '../../src/idempotency/fingerprint.js';
import { scopeKey } from '../../src/idempotency/plugin.js';
import { FakeRuntime } from '../helpers/fakes/fake-runtime.js';
import { openDb } from '../../src/store/db.js';
import { IdempotencyRepo } from '../../src/store/idempotency-repo.js';
import { PodsRepo } from '../../src/store/pods-repo.js';
import { auth, fakeDaemon, OPENAPI_PATH, TEST_TOKEN } from '../helpers/app.js';

const custom = { name: 'web', template: 'custom', image: 'pinacled/testbox:1', command: ['sleep', '3600'] };
const key = (k: string) => ({ ...auth, 'idempotency-key': k });
/** The key as the store holds it for TEST_TOKEN. */
const stored = (k: string) => scopeKey(createHash('sha256').update(TEST_TOKEN).digest('hex'), k);

t.test('same key, same request: one pod, the first answer replayed', async (t) => {
  const d = await fakeDaemon(t);
  const first = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: key('create-1'), payload: custom });
  t.equal(first.statusCode, 201, first.body);
  t.notOk(first.headers['idempotent-replayed']);
  // Same body with keys in another order: the same request.
  const again = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: key('create-1'), payload: { command: custom.command, image: custom.image, template: 'custom', name: 'web' } });
  t.equal(again.statusCode, 201);
  t.equal(again.headers['idempotent-replayed'], 'true');
  t.equal(again.body, first.body, 'identical body');
  t.equal(again.headers.location, first.headers.location);
  t.match(again.headers['content-type'], /^application\/json/);
  t.equal(d.runtime.containers.size, 1, 'one container');
  t.equal(d.runtime.calls.createContainer, 1);

  const mismatch = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: key('create-1'), payload: { ...custom, name: 'other' } });
  t.equal(mismatch.statusCode, 422);
  t.equal(mismatch.json().code, 'PINACLED_ERR_IDEMPOTENCY_MISMATCH');
  const otherRoute = await d.app.inject({ method: 'POST', url: `/v1/pods/${first.json().id}/stop`, headers: key('create-1') });
  t.equal(otherRoute.statusCode, 422, 'a key is bound to its method and path too');
  t.equal(d.runtime.containers.size, 1);

  // Without the header nothing changes: a second create is a name conflict.
  const plain = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom });
  t.equal(plain.statusCode, 409);
  t.equal(plain.json().code, 'PINACLED_ERR_NAME_TAKEN');
});

t.test('actions replay without running twice; delete replays 204', async (t) => {
  const d = await fakeDaemon(t);
  const pod = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom })).json();
  const stop1 = await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/stop?timeout=0`, headers: key('stop-1') });
  t.equal(stop1.statusCode, 200);
  t.equal(stop1.json().state, 'stopped');
  await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/start`, headers: auth });
  const calls = d.runtime.calls.stopContainer;
  const stop2 = await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/stop?timeout=0`, headers: key('stop-1') });
  t.equal(stop2.body, stop1.body, 'the first answer');
  t.equal(d.runtime.calls.stopContainer, calls, 'the stop did not run again');
  t.equal((await d.app.inject({ url: `/v1/pods/${pod.id}`, headers: auth })).json().state, 'running', 'so the pod still runs');

  for (const action of ['start', 'restart']) {
    const a = await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/${action}`, headers: key(`${action}-1`) });
    const b = await d.app.inject({ method: 'POST', url: `/v1/pods/${pod.id}/${action}`, headers: key(`${action}-1`) });
    t.equal(a.statusCode, 200);
    t.equal(b.body, a.body, `${action} replayed`);
    t.equal(b.headers['idempotent-replayed'], 'true');
  }
  const del1 = await d.app.inject({ method: 'DELETE', url: `/v1/pods/${pod.id}?timeout=0`, headers: key('del-1') });
  t.equal(del1.statusCode, 204);
  const del2 = await d.app.inject({ method: 'DELETE', url: `/v1/pods/${pod.id}?timeout=0`, headers: key('del-1') });
  t.equal(del2.statusCode, 204, 'a retried delete is 204, not 404');
  t.equal(del2.headers['idempotent-replayed'], 'true');
  const del3 = await d.app.inject({ method: 'DELETE', url: `/v1/pods/${pod.id}?timeout=0`, headers: key('del-2') });
  t.equal(del3.statusCode, 404, 'a new key runs the delete again');
});

t.test('a duplicate while the first runs is 409; a failed first attempt frees the key', async (t) => {
  const d = await fakeDaemon(t);
  d.runtime.latencyMs = 30;
  const [a, b] = await Promise.all([
    d.app.inject({ method: 'POST', url: '/v1/pods', headers: key('k'), payload: custom }),
    d.app.inject({ method: 'POST', url: '/v1/pods', headers: key('k'), payload: custom }),
  ]);
  t.same([a.statusCode, b.statusCode].sort(), [201, 409]);
  t.equal([a, b].find((r) => r.statusCode === 409)!.json().code, 'PINACLED_ERR_IDEMPOTENCY_IN_FLIGHT');
  t.equal(d.runtime.containers.size, 1);
  d.runtime.latencyMs = 0;

  d.runtime.failNext('startContainer');
  const failed = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: key('k2'), payload: { ...custom, name: 'two' } });
  t.equal(failed.statusCode, 503);
  const retry = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: key('k2'), payload: { ...custom, name: 'two' } });
  t.equal(retry.statusCode, 201, 'the retry ran (nothing was stored for the 503)');
  t.notOk(retry.headers['idempotent-replayed']);
  t.equal(d.runtime.containers.size, 2);

  const bad = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: key('has space'), payload: custom });
  t.equal(bad.statusCode, 400);
  t.equal(bad.json().errors[0].field, 'headers.idempotency-key');
  const long = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: key('x'.repeat(256)), payload: custom });
  t.equal(long.statusCode, 400);
  // Routes outside the list ignore the header.
  const list = await d.app.inject({ url: '/v1/pods', headers: key('k') });
  t.equal(list.statusCode, 200);
});

t.test('100 keys sent 5 times each, concurrently: one container per key, identical answers', async (t) => {
  const d = await fakeDaemon(t);
  d.runtime.latencyMs = 3;
  let conflicts = 0;
  const send = async (i: number) => {
    // A client that retries 409 IN_FLIGHT until it gets the final answer.
    for (let attempt = 0; ; attempt++) {
      const r = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: key(`bulk-${i}`), payload: { ...custom, name: `bulk-${i}` } });
      if (r.statusCode !== 409) return r;
      if (r.json().code !== 'PINACLED_ERR_IDEMPOTENCY_IN_FLIGHT') return r;
      conflicts++;
      await new Promise((res) => setTimeout(res, 10 + attempt * 5));
    }
  };
  const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => Promise.all(Array.from({ length: 5 }, () => send(i)))));
  let identical = 0;
  let oneOriginal = 0;
  for (const group of answers) {
    if (group[0]!.statusCode === 201 && group.every((r) => r.statusCode === 201 && r.body === group[0]!.body)) identical++;
    if (group.filter((r) => !r.headers['idempotent-replayed']).length === 1) oneOriginal++;
  }
  t.equal(identical, 100, 'all 5 answers identical (201, same body) for every key');
  t.equal(oneOriginal, 100, 'exactly one of the 5 is the original answer, 4 are replays');
  t.equal(d.runtime.containers.size, 100, 'exactly one container per key');
  t.equal(d.runtime.calls.createContainer, 100);
  t.ok(conflicts > 0, `duplicates in flight were answered 409 (${conflicts} times)`);
  t.comment(`100 keys x 5 sends: 100 containers, ${conflicts} x 409 IN_FLIGHT before the replays`);
});

t.test('a create a crash interrupted: 409 until reconciled, then the pod it made, never a second one', async (t) => {
  // Daemon A makes the pod; then the crash is simulated by writing what A would have left: the
  // key's record still pending, linked to the pod (the answer was never recorded).
  const runtime = new FakeRuntime();
  const a = await fakeDaemon(t, {}, runtime);
  const made = await a.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom });
  t.equal(made.statusCode, 201);
  const pod = made.json();
  await a.close();
  const db = openDb(a.dataDir);
  const repo = new IdempotencyRepo(db);
  const now = new Date();
  const later = new Date(now.getTime() + 3600_000).toISOString();
  repo.begin(stored('lost-answer'), fingerprint('POST', '/v1/pods', custom), JSON.stringify({ route: 'POST /v1/pods', podId: pod.id, secretKeys: [] }), now.toISOString(), later);
  // And a create that died early: its row still `creating`, no container yet.
  const pods = new PodsRepo(db);
  const half = { ...custom, name: 'half' };
  pods.insertWithPorts(
    { ...(pods.get(pod.id) as never as object), id: 'phalfxxxxxxxxxxxx', name: 'half', state: 'creating', containerName: 'pinacled-half', volumeName: 'pinacled-half-ws', containerId: null } as never,
    [],
    '127.0.0.1',
    { low: 41000, high: 41999 },
  );
  repo.begin(stored('died-early'), fingerprint('POST', '/v1/pods', half), JSON.stringify({ route: 'POST /v1/pods', podId: 'phalfxxxxxxxxxxxx', secretKeys: [] }), now.toISOString(), later);
  db.close();

  // Daemon B starts with the engine down: the first reconcile pass cannot run.
  runtime.down = true;
  const config = loadConfig({ PINACLED_TOKEN: TEST_TOKEN, PINACLED_DATA_DIR: a.dataDir, PINACLED_PORT_RANGE: '41000-41999' });
  const b = await createDaemon(config, runtime, pino({ level: 'silent' }), OPENAPI_PATH);
  t.teardown(() => b.close());
  const early = await b.app.inject({ method: 'POST', url: '/v1/pods', headers: key('lost-answer'), payload: custom });
  t.equal(early.statusCode, 409);
  t.equal(early.json().code, 'PINACLED_ERR_IDEMPOTENCY_IN_FLIGHT');
  runtime.down = false;
  await b.engine.check();
  await b.reconciler.runOnce();
  const replay = await b.app.inject({ method: 'POST', url: '/v1/pods', headers: key('lost-answer'), payload: custom });
  t.equal(replay.statusCode, 201, replay.body);
  t.equal(replay.json().id, pod.id, 'the pod the interrupted create made');
  t.equal(replay.headers.location, `/v1/pods/${pod.id}`);
  t.equal(runtime.containers.size, 1, 'no second container');
  const list = (await b.app.inject({ url: '/v1/pods', headers: auth })).json().items;
  t.same(list.map((p: { name: string }) => p.name), ['web'], 'the half-done create was rolled back');
  const rerun = await b.app.inject({ method: 'POST', url: '/v1/pods', headers: key('died-early'), payload: half });
  t.equal(rerun.statusCode, 201, 'its retry runs the create again');
  t.not(rerun.json().id, 'phalfxxxxxxxxxxxx');
  t.equal(runtime.containers.size, 2);
});

t.test('a generated password is shown once: never stored, never replayed, hashed in the pod env', async (t) => {
  const d = await fakeDaemon(t);
  d.runtime.images.add('pinacled/base:0.1.0');
  const body = { name: 'dev', template: 'base' };
  const first = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: key('base-1'), payload: body });
  t.equal(first.statusCode, 201, first.body);
  const password: string = first.json().secrets.PASSWORD;
  t.match(password, /^[A-Za-z0-9_-]{24}$/, 'the first answer has it');
  const replay = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: key('base-1'), payload: body });
  t.equal(replay.statusCode, 201);
  t.equal(replay.headers['idempotent-replayed'], 'true');
  t.notOk('secrets' in replay.json(), 'a replay has no secrets');
  t.equal(replay.json().id, first.json().id);
  const spec = d.runtime.specOf(first.json().containerId)!;
  t.notOk('PASSWORD' in spec.env, 'no PASSWORD in the container env');
  t.equal(spec.env.HASHED_PASSWORD, createHash('sha256').update(password).digest('hex'), 'code-server gets its SHA-256');
  await d.close();
  const db = openDb(d.dataDir);
  t.teardown(() => db.close());
  const dump = JSON.stringify([db.prepare('SELECT * FROM idempotency_keys').all(), db.prepare('SELECT * FROM pods').all()]);
  t.notOk(dump.includes(password), 'the store holds the password nowhere');
  t.notOk(dump.includes('base-1'), 'nor the raw key');
});

t.test('Idempotency-Keys are scoped to the token that sent them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pinacled-tokens-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const other = 'second-token-fedcba9876543210';
  writeFileSync(join(dir, 'tokens'), `${other}\n`, { mode: 0o600 });
  const d = await fakeDaemon(t, { PINACLED_TOKEN_FILE: join(dir, 'tokens') });
  const first = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: key('shared-key'), payload: custom });
  t.equal(first.statusCode, 201, first.body);
  const theirs = { authorization: `Bearer ${other}`, 'idempotency-key': 'shared-key' };
  const second = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: theirs, payload: custom });
  t.notOk(second.headers['idempotent-replayed'], 'not the first token\'s answer');
  t.equal(second.statusCode, 409, 'the request ran on its own: the name is taken');
  t.equal(second.json().code, 'PINACLED_ERR_NAME_TAKEN');
  const mine = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: key('shared-key'), payload: custom });
  t.equal(mine.headers['idempotent-replayed'], 'true', 'the first token still gets its replay');
  const theirsOther = await d.app.inject({ method: 'POST', url: '/v1/pods', headers: theirs, payload: { ...custom, name: 'web2' } });
  t.equal(theirsOther.statusCode, 201, 'the second token\'s key is its own: no mismatch with the first token\'s body');
});

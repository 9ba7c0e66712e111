import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import t, { type Test } from 'tap';
import { isPinacledError } from '../../src/errors.js';
import { canonicalJson, fingerprint } from '../../src/idempotency/fingerprint.js';
import { IdempotencyLedger } from '../../src/idempotency/ledger.js';
import type { Pod } from '../../src/pods/types.js';
import { openDb } from '../../src/store/db.js';
import { IdempotencyRepo } from '../../src/store/idempotency-repo.js';

function setup(t: Test, pods: Record<string, Partial<Pod>> = {}, settled = true) {
  const dir = mkdtempSync(join(tmpdir(), 'pinacled-idem-'));
  const db = openDb(dir);
  t.teardown(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const repo = new IdempotencyRepo(db);
  const clock = { now: new Date('2030-01-01T00:00:00.000Z') };
  const state = { settled };
  const idem = new IdempotencyLedger({
    repo,
    ttlS: 3600,
    log: pino({ level: 'silent' }),
    pods: { find: (id) => pods[id] as Pod | undefined },
    settled: () => state.settled,
    now: () => clock.now,
  });
  return { repo, idem, clock, state, db };
}

const thrown = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
};

t.test('fingerprints ignore key order but nothing else', async (t) => {
  t.equal(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } }), '{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}');
  t.equal(fingerprint('POST', '/v1/pods', { a: 1, b: 2 }), fingerprint('post', '/v1/pods', { b: 2, a: 1 }));
  t.not(fingerprint('POST', '/v1/pods', { a: 1 }), fingerprint('POST', '/v1/pods', { a: 2 }));
  t.not(fingerprint('POST', '/v1/pods/x/stop', undefined), fingerprint('POST', '/v1/pods/x/stop?timeout=1', undefined));
  t.not(fingerprint('POST', '/v1/pods/x/stop', undefined), fingerprint('POST', '/v1/pods/y/stop', undefined));
});

t.test('run, then replay; other request 422; in flight 409; failure releases', async (t) => {
  const { idem, repo } = setup(t);
  const p = { route: 'POST /v1/pods/:id/stop', podId: 'p1' };
  t.same(idem.begin('k1', 'fp1', p), { kind: 'run' });
  t.equal(repo.get('k1')?.status, null, 'pending record written before the operation');
  t.ok(isPinacledError(thrown(() => idem.begin('k1', 'fp1', p)), 'PINACLED_ERR_IDEMPOTENCY_IN_FLIGHT'), 'duplicate in flight: 409');
  t.ok(isPinacledError(thrown(() => idem.begin('k1', 'fp2', p)), 'PINACLED_ERR_IDEMPOTENCY_MISMATCH'), 'other body: 422');
  idem.finish('k1', 200, { 'content-type': 'application/json' }, '{"ok":1}');
  t.same(idem.begin('k1', 'fp1', p), { kind: 'replay', status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":1}' });
  t.ok(isPinacledError(thrown(() => idem.begin('k1', 'fp2', p)), 'PINACLED_ERR_IDEMPOTENCY_MISMATCH'), 'still 422 after completion');

  t.same(idem.begin('k2', 'fp', p), { kind: 'run' });
  idem.finish('k2', 503, {}, '{"code":"PINACLED_ERR_ENGINE_UNAVAILABLE"}');
  t.equal(repo.get('k2'), undefined, 'a failed operation releases its key');
  t.same(idem.begin('k2', 'fp', p), { kind: 'run' }, 'and the retry runs');
});

t.test('keys expire after the TTL and are pruned', async (t) => {
  const { idem, repo, clock } = setup(t);
  const p = { route: 'POST /v1/pods/:id/start', podId: 'p1' };
  idem.begin('old', 'fp', p);
  idem.finish('old', 200, {}, 'first');
  clock.now = new Date(clock.now.getTime() + 3599_000);
  t.equal(idem.prune(), 0, 'not expired yet');
  t.equal((idem.begin('old', 'fp', p) as { body: string }).body, 'first');
  clock.now = new Date(clock.now.getTime() + 2000);
  t.same(idem.begin('old', 'other', p), { kind: 'run' }, 'an expired key is free, even for another request');
  idem.finish('old', 200, {}, 'second');
  idem.begin('gone', 'fp', p);
  idem.finish('gone', 200, {}, 'x');
  clock.now = new Date(clock.now.getTime() + 3601_000);
  idem.begin('pending', 'fp', p); // in flight: never pruned
  t.equal(idem.prune(), 2);
  t.equal(repo.count(), 1);
  t.equal(repo.get('pending')?.status, null);
});

t.test('records a crash interrupted are settled from the pods once reconciled', async (t) => {
  const pods: Record<string, Partial<Pod>> = {
    survivor: { id: 'survivor', name: 'a', state: 'running', env: { PASSWORD: 'pw', OTHER: 'x' }, ports: [], labels: {}, resources: { cpuCores: 1, memoryMb: 64, pidsLimit: 64 } },
    busy: { id: 'busy', name: 'b', state: 'deleting', env: {}, ports: [], labels: {} },
    stays: { id: 'stays', name: 'c', state: 'stopped', env: {}, ports: [], labels: {} },
  };
  const { repo, state, db } = setup(t, pods, false);
  const at = '2030-01-01T00:00:00.000Z';
  const until = '2030-01-02T00:00:00.000Z';
  repo.begin('create-ok', 'fp', JSON.stringify({ route: 'POST /v1/pods', podId: 'survivor', secretKeys: ['PASSWORD'] }), at, until);
  repo.begin('create-rolled-back', 'fp', JSON.stringify({ route: 'POST /v1/pods', podId: 'vanished', secretKeys: [] }), at, until);
  repo.begin('create-no-pod-yet', 'fp', JSON.stringify({ route: 'POST /v1/pods', podId: null }), at, until);
  repo.begin('delete-done', 'fp', JSON.stringify({ route: 'DELETE /v1/pods/:id', podId: 'vanished' }), at, until);
  repo.begin('delete-busy', 'fp', JSON.stringify({ route: 'DELETE /v1/pods/:id', podId: 'busy' }), at, until);
  repo.begin('delete-not-done', 'fp', JSON.stringify({ route: 'DELETE /v1/pods/:id', podId: 'stays' }), at, until);
  repo.begin('stop', 'fp', JSON.stringify({ route: 'POST /v1/pods/:id/stop', podId: 'stays' }), at, until);
  // A new process (nothing in flight in memory).
  const idem = new IdempotencyLedger({
    repo,
    ttlS: 3600,
    log: pino({ level: 'silent' }),
    pods: { find: (id) => pods[id] as Pod | undefined },
    settled: () => state.settled,
    now: () => new Date(at),
  });
  const e = thrown(() => idem.begin('create-ok', 'fp', { route: 'POST /v1/pods', podId: null }));
  t.ok(isPinacledError(e, 'PINACLED_ERR_IDEMPOTENCY_IN_FLIGHT'), 'before the first reconcile pass: 409');
  t.match((e as Error).message, /did not finish/);
  t.equal(idem.settleInterrupted(), 0, 'nothing settles before the pods are reconciled');

  state.settled = true;
  t.equal(idem.settleInterrupted(), 6, 'all but the pod still deleting');
  const ok = idem.begin('create-ok', 'fp', { route: 'POST /v1/pods', podId: null });
  t.equal(ok.kind, 'replay');
  if (ok.kind === 'replay') {
    t.equal(ok.status, 201);
    t.equal(ok.headers.location, '/v1/pods/survivor');
    const body = JSON.parse(ok.body);
    t.equal(body.id, 'survivor');
    t.notOk('secrets' in body, 'no secrets, even from a record that names them (written before 0.2)');
    t.same(body.envKeys, ['OTHER', 'PASSWORD']);
  }
  t.same(idem.begin('create-rolled-back', 'fp', { route: 'POST /v1/pods', podId: null }), { kind: 'run' }, 'rolled back: runs again');
  t.same(idem.begin('create-no-pod-yet', 'fp', { route: 'POST /v1/pods', podId: null }), { kind: 'run' });
  const del = idem.begin('delete-done', 'fp', { route: 'DELETE /v1/pods/:id', podId: 'vanished' });
  t.same(del, { kind: 'replay', status: 204, headers: {}, body: '' }, 'a finished delete replays 204');
  t.ok(isPinacledError(thrown(() => idem.begin('delete-busy', 'fp', { route: 'DELETE /v1/pods/:id', podId: 'busy' })), 'PINACLED_ERR_IDEMPOTENCY_IN_FLIGHT'));
  t.same(idem.begin('delete-not-done', 'fp', { route: 'DELETE /v1/pods/:id', podId: 'stays' }), { kind: 'run' });
  t.same(idem.begin('stop', 'fp', { route: 'POST /v1/pods/:id/stop', podId: 'stays' }), { kind: 'run' });
  t.ok(db.open);
});

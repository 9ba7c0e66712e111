import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { openDb, StoreOpenError } from '../../src/store/db.js';
import { NameTakenError, PodsRepo, PortsExhaustedError } from '../../src/store/pods-repo.js';
import type { Pod } from '../../src/pods/types.js';
import { podFixture } from '../helpers/pod.js';

const tmp = (t: Test) => {
  const dir = mkdtempSync(join(tmpdir(), 'pinacled-pods-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

const RANGE = { low: 30000, high: 30002 };

function pod(id: string, name: string, createdAt: string): Omit<Pod, 'ports'> {
  const { ports: _ports, ...rest } = podFixture({ id, name, createdAt, updatedAt: createdAt, containerName: `c-${id}`, volumeName: `v-${id}` });
  return rest;
}

/** What a fresh repo on the same file reads: the truth the memory must equal. */
function fromDisk(dir: string, live: { close(): void }): Pod[] {
  live.close();
  const db = openDb(dir);
  const list = [...new PodsRepo(db).list()];
  db.close();
  return list;
}

t.test('memory equals the file after every kind of write', async (t) => {
  const dir = tmp(t);
  const db = openDb(dir);
  const repo = new PodsRepo(db);
  const a = repo.insertWithPorts(pod('pa', 'a', '2026-01-01T00:00:02.000Z'), [{ name: 'web', containerPort: 80 }], '127.0.0.1', RANGE);
  repo.insertWithPorts(pod('pb', 'b', '2026-01-01T00:00:01.000Z'), [], '127.0.0.1', RANGE);
  repo.insertWithPorts(pod('pc', 'c', '2026-01-01T00:00:03.000Z'), [], '127.0.0.1', RANGE);
  t.same(a.ports, [{ name: 'web', containerPort: 80, hostPort: 30000, hostIp: '127.0.0.1' }]);
  t.same(repo.list().map((p) => p.id), ['pb', 'pa', 'pc'], 'list order is creation time, not insertion');
  const up = repo.update('pa', { state: 'running', containerId: 'cid', startedAt: '2026-01-01T00:01:00Z', error: { code: 'CONTAINER_ERROR', message: 'y' } }, '2026-01-01T00:01:00.000Z');
  t.equal(up?.state, 'running');
  t.equal(repo.get('pa'), up, 'get returns the updated pod');
  t.not(up, a, 'an update replaces the pod object (views cache by identity)');
  t.equal(a.state, 'creating', 'the old object is unchanged');
  repo.update('pa', { error: null, exitCode: 3, oomKilled: true }, '2026-01-01T00:02:00.000Z');
  repo.delete('pc');
  t.equal(repo.get('pc'), undefined);
  t.equal(repo.getByName('c'), undefined);
  t.equal(repo.getByName('a')?.id, 'pa');
  t.equal(repo.update('nope', { state: 'running' }, '2026-01-01T00:03:00.000Z'), undefined, 'an update of a missing pod');
  t.equal(repo.size, 2);
  const memory = repo.list().map((p) => ({ ...p }));
  t.same(fromDisk(dir, db), memory, 'a fresh read of the file equals what memory held');
});

t.test('a failed write leaves memory as it was', async (t) => {
  const dir = tmp(t);
  const db = openDb(dir);
  const repo = new PodsRepo(db);
  repo.insertWithPorts(pod('pa', 'a', '2026-01-01T00:00:01.000Z'), [{ name: null, containerPort: 1 }, { name: null, containerPort: 2 }], '127.0.0.1', RANGE);
  t.throws(() => repo.insertWithPorts(pod('pb', 'a', '2026-01-01T00:00:02.000Z'), [], '127.0.0.1', RANGE), NameTakenError);
  t.throws(() => repo.insertWithPorts(pod('pc', 'c', '2026-01-01T00:00:03.000Z'), [{ name: null, containerPort: 1 }, { name: null, containerPort: 2 }], '127.0.0.1', RANGE), PortsExhaustedError);
  t.same(repo.list().map((p) => p.id), ['pa'], 'neither the name clash nor the rolled-back transaction reached memory');
  t.equal(repo.get('pc'), undefined);
  t.equal(repo.allocatedPortCount('127.0.0.1'), 2, 'the rolled-back ports are free');
  t.same(fromDisk(dir, db).map((p) => p.id), ['pa']);
});

t.test('cached pods are frozen: nobody changes a pod behind the store', async (t) => {
  const dir = tmp(t);
  const db = openDb(dir);
  t.teardown(() => db.close());
  const repo = new PodsRepo(db);
  const p = repo.insertWithPorts(pod('pa', 'a', '2026-01-01T00:00:01.000Z'), [{ name: null, containerPort: 1 }], '127.0.0.1', RANGE);
  t.throws(() => ((p as { state: string }).state = 'running'), TypeError);
  t.throws(() => (p.labels.team = 'y'), TypeError);
  t.throws(() => p.ports.push(p.ports[0]!), TypeError);
  t.throws(() => ((p.ports[0] as { hostPort: number }).hostPort = 1), TypeError);
  t.throws(() => ((repo.list() as Pod[]).length = 0), TypeError, 'the list is frozen too');
  t.equal(repo.get('pa')?.state, 'creating');
});

t.test('one daemon per data dir: the store is locked while open, free after close or death', async (t) => {
  const dir = tmp(t);
  const db = openDb(dir);
  const t0 = Date.now();
  t.throws(() => openDb(dir), StoreOpenError);
  t.ok(Date.now() - t0 >= 4000, 'a second opener waits for the lock (a restart racing a close) before giving up');
  try {
    openDb(dir);
  } catch (err) {
    t.match((err as Error).message, /held by another process .*another pinacled runs on .*PINACLED_DATA_DIR/);
  }
  db.close();
  const again = openDb(dir);
  t.pass('reopened after close');
  again.close();
});

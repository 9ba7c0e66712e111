import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, writeSync, closeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { isPinacledError } from '../../src/errors.js';
import { guardStore, migrate, openDb, StoreOpenError, storeId } from '../../src/store/db.js';
import { MIGRATIONS } from '../../src/store/migrations.js';

const tmp = (t: Test) => {
  const dir = mkdtempSync(join(tmpdir(), 'pinacled-db-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};
/** tap's t.throws matches patterns; this checks a predicate on what was thrown. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

t.test('opens with WAL, synchronous=FULL, a busy timeout and every migration applied', async (t) => {
  const dir = tmp(t);
  const db = openDb(dir);
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  t.equal(db.pragma('synchronous', { simple: true }), 2, 'FULL');
  t.equal(db.pragma('busy_timeout', { simple: true }), 5000);
  t.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
  const id = storeId(db);
  t.match(id, /^[0-9a-f]{32}$/);
  db.close();
  const again = openDb(dir);
  t.equal(again.pragma('user_version', { simple: true }), MIGRATIONS.length, 'reopening migrates nothing');
  t.equal(storeId(again), id, 'the store id is stable');
  again.close();
});

t.test('a failed migration changes nothing; a newer schema is refused', async (t) => {
  const dir = tmp(t);
  const db = openDb(dir);
  const extra = [...MIGRATIONS, 'CREATE TABLE half_done (x INTEGER);', 'THIS IS NOT SQL;'];
  t.throws(() => migrate(db, extra));
  t.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length + 1, 'the good migration stayed, the bad one did not bump the version');
  db.pragma(`user_version = ${MIGRATIONS.length + 5}`);
  db.close();
  const err = thrown(() => openDb(dir));
  t.ok(err instanceof StoreOpenError);
  t.match((err as Error).message, /newer than this pinacled/);
});

t.test('a corrupt file is refused with a clear message and left as it was', async (t) => {
  const dir = tmp(t);
  const db = openDb(dir);
  const insert = db.prepare("INSERT INTO events (pod_id, pod_name, type, time, details) VALUES ('p', 'n', 't', 'x', ?)");
  for (let i = 0; i < 400; i++) insert.run('y'.repeat(500));
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  const file = join(dir, 'pinacled.db');
  t.ok(statSync(file).size > 100_000);
  // Garbage over pages in the middle of the file (the header stays valid).
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(8192, 0xa5), 0, 8192, 16 * 4096);
  closeSync(fd);
  const before = sha(file);
  let err: unknown;
  try {
    openDb(dir);
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof StoreOpenError, 'StoreOpenError');
  t.match((err as Error).message, /pinacled\.db is unreadable or corrupt/);
  t.match((err as Error).message, /Restore it from a backup/);
  t.equal(sha(file), before, 'the file is not modified');

  // Not a database at all.
  const dir2 = tmp(t);
  writeFileSync(join(dir2, 'pinacled.db'), 'hello, this is not sqlite'.repeat(100));
  const err2 = thrown(() => openDb(dir2));
  t.ok(err2 instanceof StoreOpenError);
  t.match((err2 as Error).message, /unreadable or corrupt/);
});

t.test('store failures become a coded 503', async (t) => {
  const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
  const e1 = thrown(() => guardStore(() => { throw full; }));
  t.ok(isPinacledError(e1, 'PINACLED_ERR_STORE_UNAVAILABLE') && e1.status === 503, 'SQLITE_FULL -> 503 STORE_UNAVAILABLE');
  const io = Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' });
  t.ok(isPinacledError(thrown(() => guardStore(() => { throw io; })), 'PINACLED_ERR_STORE_UNAVAILABLE'), 'SQLITE_IOERR_* -> 503');
  const other = new TypeError('a bug');
  t.equal(thrown(() => guardStore(() => { throw other; })), other, 'other errors pass through');
});

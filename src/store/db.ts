import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PinacledError } from '../errors.js';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

export class StoreOpenError extends Error {
  override name = 'StoreOpenError';
}

/**
 * Opens (creating if needed) the SQLite file in dataDir, checks its integrity and migrates it.
 * WAL + synchronous=FULL: writes are rare and an acknowledged pod must survive a power cut.
 *
 * locking_mode=EXCLUSIVE: this connection holds the file's lock until it closes (or the process
 * dies: the kernel drops POSIX locks with the process, so kill -9 leaves no stale lock). One
 * daemon per data dir is what the rest relies on: the pods repo serves reads from memory
 * (store/pods-repo.ts), which is only true while nobody else writes the file. A second daemon
 * on the same dir fails to start with a clear message instead of diverging silently. The
 * price: `sqlite3 pinacled.db` cannot read the file while the daemon runs (the API can).
 */
export function openDb(dataDir: string, file = 'pinacled.db'): Db {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, file);
  let db: Db;
  try {
    db = new Database(path);
    // A daemon restarted while the old one still closes waits for its lock up to 5 s.
    db.pragma('busy_timeout = 5000');
    // Before journal_mode: in exclusive mode the WAL index lives in heap memory (no -shm file).
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new Error(`quick_check: ${String(check)}`);
  } catch (err) {
    const code = String((err as { code?: string }).code ?? '');
    if (code.startsWith('SQLITE_BUSY')) {
      db!.close();
      throw new StoreOpenError(
        `the state database ${path} is held by another process (${code}): another pinacled runs on ${dataDir}; ` +
          'stop it, or give this one its own PINACLED_DATA_DIR',
      );
    }
    if (/^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|PERM|BUSY)/.test(code)) {
      throw new StoreOpenError(`the state database ${path} cannot be opened (${code}: ${(err as Error).message}); check the disk and permissions of ${dataDir}`);
    }
    // The file is left exactly as it was (not closed: closing a WAL database checkpoints into it).
    throw new StoreOpenError(
      `the state database ${path} is unreadable or corrupt (${(err as Error).message}); ` +
        'pinacled will not start on it. Restore it from a backup, or move it aside to start with an empty store: ' +
        'the pods of the old file keep running, and the new store never touches them (they carry the old store id); ' +
        'remove them by label dev.pinacle.managed=true once you no longer need them',
    );
  }
  try {
    migrate(db);
  } catch (err) {
    db.close();
    if (err instanceof StoreOpenError) throw err;
    // Each migration is one transaction: a failed one (disk full, read-only) left nothing behind.
    throw new StoreOpenError(`the state database ${path} could not be migrated (${(err as Error).message}); nothing was changed`);
  }
  return db;
}

/** Applies the migrations past PRAGMA user_version, one transaction each. */
export function migrate(db: Db, migrations: readonly string[] = MIGRATIONS): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > migrations.length) {
    throw new StoreOpenError(`the state database has schema version ${version}, newer than this pinacled (${migrations.length}); upgrade pinacled`);
  }
  for (let v = version; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

const STORE_FAILURES = new Set(['SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_BUSY', 'SQLITE_CORRUPT']);

/** Runs a store write; disk full, I/O errors and the like become a coded 503. */
export function guardStore<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const code = String((err as { code?: string }).code ?? '');
    if ([...STORE_FAILURES].some((c) => code.startsWith(c))) {
      throw new PinacledError('PINACLED_ERR_STORE_UNAVAILABLE', 'The state store cannot be written (disk full or I/O error)', { cause: err });
    }
    throw err;
  }
}

export function storeId(db: Db): string {
  const row = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'store_id'").get();
  if (!row) throw new StoreOpenError('the state database has no store_id');
  return row.value;
}

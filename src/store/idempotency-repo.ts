import type { Db } from './db.js';
import { guardStore } from './db.js';

/**
 * One Idempotency-Key record (table idempotency_keys, migration 4). `status` is null while the
 * operation has not answered; `response` then holds the operation's progress (JSON the
 * idempotency layer defines), afterwards the answer to replay.
 */
export interface IdempotencyRecord {
  key: string;
  fingerprint: string;
  status: number | null;
  response: string | null;
  createdAt: string;
  expiresAt: string;
}

interface Row {
  key: string;
  fingerprint: string;
  status: number | null;
  response: string | null;
  created_at: string;
  expires_at: string;
}

const toRecord = (r: Row): IdempotencyRecord => ({
  key: r.key,
  fingerprint: r.fingerprint,
  status: r.status,
  response: r.response,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

/** SQL for idempotency records. Every write goes through guardStore (disk full -> 503). */
export class IdempotencyRepo {
  readonly #db: Db;
  readonly #s;

  constructor(db: Db) {
    this.#db = db;
    this.#s = {
      get: db.prepare<[string], Row>('SELECT * FROM idempotency_keys WHERE key = ?'),
      insert: db.prepare(
        'INSERT INTO idempotency_keys (key, fingerprint, status, response, created_at, expires_at) VALUES (?, ?, NULL, ?, ?, ?)',
      ),
      del: db.prepare('DELETE FROM idempotency_keys WHERE key = ?'),
      progress: db.prepare('UPDATE idempotency_keys SET response = ? WHERE key = ? AND status IS NULL'),
      complete: db.prepare('UPDATE idempotency_keys SET status = ?, response = ? WHERE key = ? AND status IS NULL'),
      pending: db.prepare<[], Row>('SELECT * FROM idempotency_keys WHERE status IS NULL ORDER BY created_at'),
      prune: db.prepare('DELETE FROM idempotency_keys WHERE expires_at <= ? AND status IS NOT NULL'),
      count: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM idempotency_keys'),
    };
  }

  get(key: string): IdempotencyRecord | undefined {
    const r = this.#s.get.get(key);
    return r && toRecord(r);
  }

  /**
   * Writes a pending record, replacing an expired one with the same key, in one transaction.
   * Returns false (and writes nothing) when a live record holds the key.
   */
  begin(key: string, fingerprint: string, progress: string, createdAt: string, expiresAt: string): boolean {
    return guardStore(() =>
      this.#db.transaction(() => {
        const old = this.#s.get.get(key);
        if (old && old.expires_at > createdAt) return false;
        if (old) this.#s.del.run(key);
        this.#s.insert.run(key, fingerprint, progress, createdAt, expiresAt);
        return true;
      })(),
    );
  }

  /** Records progress of a pending operation (e.g. the pod id a create made). */
  setProgress(key: string, progress: string): void {
    guardStore(() => this.#s.progress.run(progress, key));
  }

  /** Stores the answer to replay. Only a pending record is completed. */
  complete(key: string, status: number, response: string): void {
    guardStore(() => this.#s.complete.run(status, response, key));
  }

  /** Forgets the key: the next request with it runs the operation. */
  release(key: string): void {
    guardStore(() => this.#s.del.run(key));
  }

  /** Records whose operation has not answered (in flight now, or interrupted by a crash). */
  pending(): IdempotencyRecord[] {
    return this.#s.pending.all().map(toRecord);
  }

  /** Deletes expired, answered records; returns how many. Pending ones are settled, not pruned. */
  pruneExpired(now: string): number {
    return guardStore(() => this.#s.prune.run(now).changes);
  }

  count(): number {
    return this.#s.count.get()?.n ?? 0;
  }
}

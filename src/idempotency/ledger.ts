import type { Logger } from 'pino';
import { createdAnswer } from '../api/views.js';
import { PinacledError } from '../errors.js';
import { isTransitional } from '../pods/state.js';
import type { Pod } from '../pods/types.js';
import type { IdempotencyRecord, IdempotencyRepo } from '../store/idempotency-repo.js';

/** The operation a pending record stands for, stored with it before the operation runs. */
export interface Progress {
  /** `METHOD /route/template`, e.g. `POST /v1/pods` or `DELETE /v1/pods/:id`. */
  route: string;
  /** The pod operated on: from the path, or (create) the pod the create inserted. */
  podId: string | null;
}

/** What a request with a key should do. */
export type BeginResult = { kind: 'run' } | { kind: 'replay'; status: number; headers: Record<string, string>; body: string };

interface StoredAnswer {
  headers: Record<string, string>;
  body: string;
}

export interface IdempotencyLedgerOptions {
  repo: IdempotencyRepo;
  ttlS: number;
  log: Logger;
  pods: { find(id: string): Pod | undefined };
  /** True once the reconciler has settled the pods after this process started. */
  settled: () => boolean;
  pruneIntervalMs?: number;
  now?: () => Date;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Idempotency-Key records. The record is written (pending) before the operation runs, in its
 * own transaction, and completed with the answer when the operation answers 2xx. Any other
 * answer releases the key: every failure path of the pod operations rolls back (create) or is
 * safe to run again (start, stop, restart, delete), so a retry simply runs again. Except when
 * the failure left the pod in a transitional state for the reconciler: see finish().
 *
 * A pending record is either in flight in this process (`#inflight`: duplicates get 409) or was
 * left by a process that died (or by a failure that left the pod half-way). Such a record is
 * never run a second time blindly: it answers 409 until the reconciler has settled the pods
 * (its first pass after start, and the pod out of any transitional state), and is then settled
 * from what the pods show (decision: settle from the outcome, rather than retry, because only
 * the pods tell whether the first run took effect):
 * - create: the pod it inserted exists (the crash came after it started) -> completed with a
 *   201 of the pod as it is now, without `secrets`: generated secrets are never stored (the pod
 *   keeps only a hash), so a client that never saw them deletes the pod and creates it again;
 *   the pod is gone (the reconciler rolled the half-done create back) -> released;
 * - delete: the pod is gone (finished before or by the reconciler) -> completed with 204;
 *   otherwise released;
 * - start, stop, restart: released (running them again converges to the same state).
 */
export class IdempotencyLedger {
  readonly #o: IdempotencyLedgerOptions;
  readonly #now: () => Date;
  /** Keys whose operation runs in this process now, with their progress. */
  readonly #inflight = new Map<string, Progress>();
  #timer: NodeJS.Timeout | undefined;

  constructor(o: IdempotencyLedgerOptions) {
    this.#o = o;
    this.#now = o.now ?? (() => new Date());
  }

  /** Decides what a request with this key does; throws 409 (in flight) or 422 (other request). */
  begin(key: string, fingerprint: string, progress: Progress): BeginResult {
    // Two rounds at most: the second follows the settling of an interrupted record.
    for (let round = 0; round < 2; round++) {
      const now = this.#now();
      const found = this.#o.repo.get(key);
      // An expired record is no record (unless its operation still runs here).
      const rec = found && (found.expiresAt > now.toISOString() || this.#inflight.has(key)) ? found : undefined;
      if (rec && rec.fingerprint !== fingerprint) {
        throw new PinacledError('PINACLED_ERR_IDEMPOTENCY_MISMATCH', 'This Idempotency-Key was used with a different request (method, path or body)');
      }
      if (this.#inflight.has(key)) {
        throw new PinacledError('PINACLED_ERR_IDEMPOTENCY_IN_FLIGHT', 'The first request with this Idempotency-Key is still running; retry later');
      }
      if (!rec) {
        const expires = new Date(now.getTime() + this.#o.ttlS * 1000);
        if (this.#o.repo.begin(key, fingerprint, JSON.stringify(progress), now.toISOString(), expires.toISOString())) {
          this.#inflight.set(key, progress);
          return { kind: 'run' };
        }
        continue;
      }
      if (rec.status === null) {
        if (!this.#settle(rec)) {
          throw new PinacledError(
            'PINACLED_ERR_IDEMPOTENCY_IN_FLIGHT',
            'The request with this Idempotency-Key did not finish (daemon restart or engine failure); it is being settled, retry later',
          );
        }
        continue;
      }
      const answer = JSON.parse(rec.response ?? '{}') as StoredAnswer;
      return { kind: 'replay', status: rec.status, headers: answer.headers ?? {}, body: answer.body ?? '' };
    }
    throw new PinacledError('PINACLED_ERR_IDEMPOTENCY_IN_FLIGHT', 'This Idempotency-Key is being settled; retry later');
  }

  /** A create under this key inserted pod `podId`: remembered, so a crash can be settled. */
  noteIntent(key: string, podId: string): void {
    const p = this.#inflight.get(key);
    if (!p) return;
    p.podId = podId;
    try {
      this.#o.repo.setProgress(key, JSON.stringify(p));
    } catch (err) {
      this.#o.log.warn({ err: (err as Error).message }, 'could not record the progress of an idempotent create');
    }
  }

  /**
   * The operation answered: 2xx is stored for replay; otherwise the key is released, unless the
   * failure left the pod in a transitional state for the reconciler to finish (the engine died
   * mid-delete, a create's rollback is pending): then the record stays pending and is settled
   * like an interrupted one, so a retry gets 409 and then the real outcome (e.g. 204 once the
   * reconciler finished the delete) instead of a second run against a half-done pod.
   */
  finish(key: string, status: number, headers: Record<string, string>, body: string): void {
    const progress = this.#inflight.get(key);
    if (!progress || !this.#inflight.delete(key)) return;
    try {
      if (status >= 200 && status < 300) this.#o.repo.complete(key, status, JSON.stringify({ headers, body } satisfies StoredAnswer));
      else if (this.#leftHalfDone(progress)) this.#o.log.info({ route: progress.route, podId: progress.podId }, 'idempotent request failed half-way; its key settles with the pod');
      else this.#o.repo.release(key);
    } catch (err) {
      // The store refuses the write (disk full): the record stays pending and is settled like
      // one a crash interrupted.
      this.#o.log.warn({ err: (err as Error).message }, 'could not record the answer of an idempotent request');
    }
  }

  /** Settles every interrupted record it can (called after reconcile passes). */
  settleInterrupted(): number {
    let n = 0;
    for (const rec of this.#o.repo.pending()) {
      if (!this.#inflight.has(rec.key) && this.#settle(rec)) n++;
    }
    return n;
  }

  /** Deletes expired answered records. */
  prune(): number {
    const n = this.#o.repo.pruneExpired(this.#now().toISOString());
    if (n) this.#o.log.debug({ pruned: n }, 'expired idempotency keys pruned');
    return n;
  }

  start(): void {
    const every = this.#o.pruneIntervalMs ?? Math.min(600_000, (this.#o.ttlS * 1000) / 4);
    this.#timer = setInterval(() => {
      try {
        this.prune();
      } catch (err) {
        this.#o.log.warn({ err: (err as Error).message }, 'could not prune idempotency keys');
      }
    }, every);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #leftHalfDone(p: Progress): boolean {
    const pod = p.podId ? this.#o.pods.find(p.podId) : undefined;
    return !!pod && isTransitional(pod.state);
  }

  /** True when the interrupted record was completed or released. */
  #settle(rec: IdempotencyRecord): boolean {
    if (!this.#o.settled()) return false;
    let p: Progress;
    try {
      p = JSON.parse(rec.response ?? '') as Progress;
    } catch {
      p = { route: '', podId: null };
    }
    const pod = p.podId ? this.#o.pods.find(p.podId) : undefined;
    if (pod && isTransitional(pod.state)) return false; // an operation or the reconciler is on it
    let outcome: 'release' | { status: number; answer: StoredAnswer } = 'release';
    if (p.route === 'POST /v1/pods' && pod) {
      const created = createdAnswer(pod);
      outcome = {
        status: created.status,
        answer: { headers: { 'content-type': JSON_TYPE, location: created.location }, body: JSON.stringify(created.view) },
      };
    } else if (p.route === 'DELETE /v1/pods/:id' && p.podId && !pod) {
      outcome = { status: 204, answer: { headers: {}, body: '' } };
    }
    try {
      if (outcome === 'release') this.#o.repo.release(rec.key);
      else this.#o.repo.complete(rec.key, outcome.status, JSON.stringify(outcome.answer));
    } catch (err) {
      this.#o.log.warn({ err: (err as Error).message }, 'could not settle an interrupted idempotency key');
      return false;
    }
    this.#o.log.info({ route: p.route, podId: p.podId, outcome: outcome === 'release' ? 'released' : outcome.status }, 'interrupted idempotent request settled');
    return true;
  }
}

import type { Db } from './db.js';
import { guardStore } from './db.js';

/** A stored pod event (openapi.yaml `PodEvent`). */
export interface PodEvent {
  /** Gap-free, strictly increasing across daemon restarts (SQLite AUTOINCREMENT, never reused). */
  seq: number;
  podId: string;
  podName: string;
  type: string;
  /** When the daemon recorded it (RFC 3339, UTC). */
  time: string;
  details: Record<string, unknown>;
}

interface Row {
  seq: number;
  pod_id: string;
  pod_name: string;
  type: string;
  time: string;
  details: string;
}

const toEvent = (r: Row): PodEvent => ({
  seq: r.seq,
  podId: r.pod_id,
  podName: r.pod_name,
  type: r.type,
  time: r.time,
  details: JSON.parse(r.details) as Record<string, unknown>,
});

export class EventsRepo {
  readonly #stmts;

  constructor(db: Db) {
    this.#stmts = {
      insert: db.prepare<[string, string, string, string, string], Row>(
        'INSERT INTO events (pod_id, pod_name, type, time, details) VALUES (?, ?, ?, ?, ?) RETURNING *',
      ),
      after: db.prepare<[number, number], Row>('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?'),
      afterForPod: db.prepare<[number, string, number], Row>('SELECT * FROM events WHERE seq > ? AND pod_id = ? ORDER BY seq LIMIT ?'),
      oldest: db.prepare<[], { seq: number | null }>('SELECT min(seq) AS seq FROM events'),
      // The highest seq ever handed out, even if that event was pruned since.
      latest: db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'events'"),
      pruneAge: db.prepare<[string], unknown>('DELETE FROM events WHERE time < ?'),
      pruneCount: db.prepare<[number], unknown>('DELETE FROM events WHERE seq <= (SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET ?)'),
    };
  }

  insert(e: Omit<PodEvent, 'seq'>): PodEvent {
    return toEvent(guardStore(() => this.#stmts.insert.get(e.podId, e.podName, e.type, e.time, JSON.stringify(e.details))!));
  }

  /** Events with seq > after, oldest first. */
  list(after: number, limit: number, podId?: string): PodEvent[] {
    const rows = podId === undefined ? this.#stmts.after.all(after, limit) : this.#stmts.afterForPod.all(after, podId, limit);
    return rows.map(toEvent);
  }

  /** Lowest seq still stored (null: none). */
  oldestSeq(): number | null {
    return this.#stmts.oldest.get()?.seq ?? null;
  }

  /** Highest seq ever assigned (0: none yet). */
  latestSeq(): number {
    return this.#stmts.latest.get()?.seq ?? 0;
  }

  /** Deletes events older than `before` and all but the newest `keep`; returns how many. */
  prune(before: string, keep: number): number {
    return guardStore(() => {
      const a = (this.#stmts.pruneAge.run(before) as { changes: number }).changes;
      const b = (this.#stmts.pruneCount.run(keep) as { changes: number }).changes;
      return a + b;
    });
  }
}

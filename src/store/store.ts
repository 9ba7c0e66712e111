import { openDb, storeId } from './db.js';
import { EventsRepo } from './events-repo.js';
import { IdempotencyRepo } from './idempotency-repo.js';
import { PodsRepo } from './pods-repo.js';

/** The state database and its repositories (one file under the data dir). */
export interface Store {
  readonly pods: PodsRepo;
  readonly events: EventsRepo;
  readonly idempotency: IdempotencyRepo;
  /** This store's id: the label that marks the containers it owns. */
  readonly id: string;
  close(): void;
}

export function openStore(dataDir: string): Store {
  const db = openDb(dataDir);
  return {
    pods: new PodsRepo(db),
    events: new EventsRepo(db),
    idempotency: new IdempotencyRepo(db),
    id: storeId(db),
    close: () => db.close(),
  };
}

/**
 * Versioned schema migrations, applied in order inside one transaction each.
 * PRAGMA user_version holds the version reached. Never edit a released migration: add one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: pods and their host port allocations.
  `CREATE TABLE pods (
     id             TEXT PRIMARY KEY,
     name           TEXT NOT NULL UNIQUE,
     template       TEXT NOT NULL,
     image          TEXT NOT NULL,
     command        TEXT,
     state          TEXT NOT NULL,
     runtime        TEXT NOT NULL,
     sandboxed      INTEGER NOT NULL,
     resources      TEXT NOT NULL,
     ports          TEXT NOT NULL,
     env            TEXT NOT NULL,
     labels         TEXT NOT NULL,
     container_name TEXT NOT NULL UNIQUE,
     volume_name    TEXT NOT NULL UNIQUE,
     container_id   TEXT,
     created_at     TEXT NOT NULL,
     updated_at     TEXT NOT NULL,
     started_at     TEXT,
     finished_at    TEXT,
     exit_code      INTEGER,
     oom_killed     INTEGER NOT NULL DEFAULT 0,
     error_code     TEXT,
     error_message  TEXT
   );
   CREATE INDEX pods_state ON pods(state);
   CREATE TABLE port_allocations (
     host_ip   TEXT NOT NULL,
     host_port INTEGER NOT NULL,
     pod_id    TEXT NOT NULL REFERENCES pods(id) ON DELETE CASCADE,
     PRIMARY KEY (host_ip, host_port)
   );
   CREATE INDEX port_allocations_pod ON port_allocations(pod_id);`,
  // 2: this database's identity. Containers carry it as a label, so the reconciler can prove
  // that a container without a pod row was made by *this* store before it removes it.
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   INSERT INTO meta (key, value) VALUES ('store_id', lower(hex(randomblob(16))));`,
  // 3: the pod event feed (GET /v1/events): every transition, with a gap-free sequence.
  `CREATE TABLE events (
     seq      INTEGER PRIMARY KEY AUTOINCREMENT,
     pod_id   TEXT NOT NULL,
     pod_name TEXT NOT NULL,
     type     TEXT NOT NULL,
     time     TEXT NOT NULL,
     details  TEXT NOT NULL
   );
   CREATE INDEX events_pod ON events(pod_id, seq);
   CREATE INDEX events_time ON events(time);`,
  // 4: Idempotency-Key records: the first answer to a key, replayed to its retries.
  `CREATE TABLE idempotency_keys (
     key          TEXT PRIMARY KEY,
     fingerprint  TEXT NOT NULL,
     status       INTEGER,
     response     TEXT,
     created_at   TEXT NOT NULL,
     expires_at   TEXT NOT NULL
   );
   CREATE INDEX idempotency_expiry ON idempotency_keys(expires_at);`,
];

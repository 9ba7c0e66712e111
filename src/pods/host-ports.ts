import { readFileSync } from 'node:fs';

/**
 * TCP ports something on the host is listening on, from /proc/net/tcp{,6} (state 0A = LISTEN).
 * Read synchronously so the port allocator can skip them inside its SQLite transaction.
 * On hosts without /proc (not Linux) this returns an empty set and Docker reports conflicts.
 */
export function listeningPorts(): Set<number> {
  const ports = new Set<number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] !== '0A' || !cols[1]) continue;
      const port = parseInt(cols[1].split(':')[1] ?? '', 16);
      if (Number.isFinite(port)) ports.add(port);
    }
  }
  return ports;
}

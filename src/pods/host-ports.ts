import { readFile } from 'node:fs/promises';

/**
 * TCP ports something on the host is listening on, from /proc/net/tcp{,6} (state 0A = LISTEN).
 * Read asynchronously: the kernel formats one line per socket inside read(), 8-32 ms on a host
 * with many connections (issue 8), which must not stall the event loop for every other request.
 * Taken just before the port allocation's transaction; a port that starts listening in between
 * makes the engine refuse the bind, and the create is rolled back like any failed create.
 * On hosts without /proc (not Linux) this returns an empty set and Docker reports conflicts.
 */
export async function listeningPorts(): Promise<Set<number>> {
  const texts = await Promise.all(['/proc/net/tcp', '/proc/net/tcp6'].map((f) => readFile(f, 'latin1').catch(() => '')));
  const ports = new Set<number>();
  for (const text of texts) {
    // Columns: sl local_address rem_address st ...; local_address is HEXIP:HEXPORT.
    for (const line of text.split('\n')) {
      const m = /^\s*\d+: [0-9A-F]+:([0-9A-F]{4}) [0-9A-F]+:[0-9A-F]{4} 0A /.exec(line);
      if (m) ports.add(parseInt(m[1]!, 16));
    }
  }
  return ports;
}

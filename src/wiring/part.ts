/**
 * A piece of the daemon with background work: started in the order createDaemon lists the parts,
 * stopped in the reverse order (each waits for what it has in flight). Parts without background
 * work (the service, the waiters) are plain objects and not listed.
 */
export interface Part {
  start?(): void | Promise<void>;
  stop?(): void | Promise<void>;
}

/** Starts parts in order; a part whose start resolves later (the firewall's first check) must not return its promise. */
export async function startParts(parts: readonly Part[]): Promise<void> {
  for (const p of parts) await p.start?.();
}

/** Stops parts in reverse start order. */
export async function stopParts(parts: readonly Part[]): Promise<void> {
  for (const p of [...parts].reverse()) await p.stop?.();
}

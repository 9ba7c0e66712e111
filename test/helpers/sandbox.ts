import { readFileSync } from 'node:fs';

/** What the host setup registered (scripts/lib/runsc.sh writes it after probing every build). */
export interface RunscState {
  registered: Record<string, { build: number; network: 'netstack' | 'host'; platform: string }>;
  fallbacks: string[];
  network: 'netstack' | 'host';
  build: number;
}

export const RUNSC_STATE = process.env.PINACLED_RUNSC_STATE ?? '/var/lib/pinacled/runsc.json';

/** The registration facts, or undefined on a host the project's setup did not configure. */
export function runscState(): RunscState | undefined {
  try {
    return JSON.parse(readFileSync(RUNSC_STATE, 'utf8')) as RunscState;
  } catch {
    return undefined;
  }
}

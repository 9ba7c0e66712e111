import { readFileSync } from 'node:fs';
import { builtinTemplates } from '../../src/pods/templates.js';
import type { TemplateName } from '../../src/pods/types.js';

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

/**
 * The runtime pinacled gives a pod of a template: the runtime of the template's default
 * platform where the host setup registered it (nextjs and mastra: `runsc-ptrace`), else `runsc`.
 */
export function templateRuntime(template: string | undefined): string {
  const platform = template ? builtinTemplates({ imagePrefix: 'x', imageTag: 'y' })[template as TemplateName]?.platform : undefined;
  return platform && runscState()?.registered[`runsc-${platform}`] ? `runsc-${platform}` : 'runsc';
}

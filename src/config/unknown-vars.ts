import { envSchema } from './schema.js';

/**
 * PINACLED_* variables the scripts (not the daemon) read: setting them in the daemon's
 * environment is not a mistake, so they draw no warning.
 */
const SCRIPT_VARS = new Set([
  'PINACLED_AUTO_CA_DIR', 'PINACLED_BASE_IMAGE', 'PINACLED_BENCH_BUILD_DIR', 'PINACLED_BENCH_DIST',
  'PINACLED_BUILD_NETWORK', 'PINACLED_DEBIAN_MIRROR', 'PINACLED_DOCKER', 'PINACLED_EXTRA_CA_CERTS',
  'PINACLED_REQUIRE_IMAGES', 'PINACLED_ROOT', 'PINACLED_SKIP_IMAGES', 'PINACLED_TEST_IMAGE', 'PINACLED_VERSION',
]);

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

export interface UnknownVar {
  name: string;
  /** The known variable nearest by edit distance. */
  nearest: string;
}

/**
 * PINACLED_* variables the daemon does not know. The schema strips unknown keys, so without this
 * a misspelt setting (PINACLED_FIREWAL=off) would be ignored silently; main.ts warns instead of
 * failing, so that a variable meant for a newer version does not stop an older daemon.
 */
export function unknownVars(env: NodeJS.ProcessEnv): UnknownVar[] {
  const known = Object.keys(envSchema.shape);
  return Object.keys(env)
    .filter((k) => k.startsWith('PINACLED_') && !known.includes(k) && !SCRIPT_VARS.has(k))
    .sort()
    .map((name) => {
      const scored = known.map((k) => ({ k, d: distance(name, k) }));
      return { name, nearest: scored.reduce((best, c) => (c.d < best.d ? c : best)).k };
    });
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What pinacled_build_info reports about this build. */
export interface BuildInfo {
  version: string;
  /** The git commit `npm run build` was run on (scripts/lib/build-info.mjs), or `unknown`. */
  commit: string;
}

/**
 * Reads package.json's version and dist/build-info.json's commit under `root`, once, at start;
 * `unknown` for what is absent (a checkout run from source, a build outside git).
 */
export function readBuildInfo(root: string): BuildInfo {
  return {
    version: stringField(join(root, 'package.json'), 'version') ?? 'unknown',
    commit: stringField(join(root, 'dist', 'build-info.json'), 'commit') ?? 'unknown',
  };
}

function stringField(file: string, key: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const v = (JSON.parse(text) as Record<string, unknown>)[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

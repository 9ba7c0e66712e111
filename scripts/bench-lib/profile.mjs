import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { DIST, ROOT } from './fixtures.mjs';

/** Where a frame's code lives: a package, a dist/ file of pinacled, node's internals, or V8. */
function moduleOf(url) {
  if (!url) return '(native/V8)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  if (url.startsWith('node:')) return 'node:internal';
  const path = url.replace(/^file:\/\//, '');
  if (path.startsWith(`${DIST}/`)) return relative(dirname(DIST), path);
  return path.startsWith(ROOT) ? relative(ROOT, path) : path;
}

/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): self time by function and by module, as
 * percentages of the non-idle samples, top `n` of each.
 */
export function summarizeProfile(file, n = 15) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((x) => [x.id, x]));
  const hits = new Map();
  for (const id of prof.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const fn = new Map();
  const mod = new Map();
  let busy = 0;
  let idle = 0;
  for (const [id, count] of hits) {
    const cf = byId.get(id).callFrame;
    if (cf.functionName === '(idle)') {
      idle += count;
      continue;
    }
    busy += count;
    const key = `${cf.functionName || '(anonymous)'} ${moduleOf(cf.url)}:${cf.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + count);
    const m = cf.url ? moduleOf(cf.url) : cf.functionName;
    mod.set(m, (mod.get(m) ?? 0) + count);
  }
  const top = (map) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => ({ name: k, percent: Number(((v / busy) * 100).toFixed(1)) }));
  return { busySamples: busy, idleSamples: idle, busyPercentOfWall: Number(((busy / (busy + idle)) * 100).toFixed(1)), functions: top(fn), modules: top(mod) };
}

/** The newest profile a process wrote into `dir`, summarised (undefined when there is none). */
export function summarizeDir(dir) {
  let files;
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  } catch {
    return undefined;
  }
  if (!files.length) return undefined;
  files.sort();
  return { file: join(dir, files[files.length - 1]), ...summarizeProfile(join(dir, files[files.length - 1])) };
}

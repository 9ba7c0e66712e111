import { cpSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = new URL('../..', import.meta.url).pathname;

/** Every path under `dir`, depth first. */
export function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    out.push(p);
    if (lstatSync(p).isDirectory()) walk(p, out);
  }
  return out;
}

/**
 * The least build tree scripts/install-systemd accepts, in `src`: the script, its library, the
 * unit, a dist/ and an empty node_modules. Returns the script's path.
 */
export function minimalBuildTree(src: string): string {
  mkdirSync(join(src, 'scripts'), { recursive: true });
  cpSync(join(ROOT, 'scripts', 'install-systemd'), join(src, 'scripts', 'install-systemd'));
  cpSync(join(ROOT, 'scripts', 'lib'), join(src, 'scripts', 'lib'), { recursive: true });
  cpSync(join(ROOT, 'systemd'), join(src, 'systemd'), { recursive: true });
  mkdirSync(join(src, 'dist'));
  writeFileSync(join(src, 'dist', 'main.js'), 'console.log("pinacled")\n');
  mkdirSync(join(src, 'node_modules'));
  writeFileSync(join(src, 'package.json'), JSON.stringify({ name: 'pinacled', version: '0.0.0', private: true }));
  writeFileSync(join(src, 'package-lock.json'), JSON.stringify({ name: 'pinacled', version: '0.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'pinacled', version: '0.0.0' } } }));
  return join(src, 'scripts', 'install-systemd');
}

import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const VITE_DIR = '/tmp/pinacled-bench-vite';
export const VITE_VERSION = '7';
export const VITE_FILES = 3000;
export const VITE_PORT = 5173;

/**
 * A Vite dev-server project for the idle-CPU measurement, made on the host (the pods may not
 * reach the npm registry; the host does): vite from the registry (cached in VITE_DIR, outside
 * the repository), an index.html and VITE_FILES source modules for its watcher, of which the
 * page imports a few. Returns { dir, version } or { skipped: why }.
 */
export async function prepareVite(dir = VITE_DIR) {
  try {
    mkdirSync(join(dir, 'src', 'files'), { recursive: true });
    if (!existsSync(join(dir, 'node_modules', 'vite', 'package.json'))) {
      writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'pinacled-bench-vite', private: true, type: 'module' })}\n`);
      await run('npm', ['install', '--no-audit', '--no-fund', `vite@${VITE_VERSION}`], { cwd: dir, timeout: 300_000 });
    }
    for (let i = 0; i < VITE_FILES; i++) {
      writeFileSync(join(dir, 'src', 'files', `m${i}.js`), `export const v${i} = ${i};\nexport function f${i}(x) {\n  return x + v${i};\n}\n`);
    }
    const imports = Array.from({ length: 20 }, (_, i) => `import { f${i} } from './files/m${i}.js';`).join('\n');
    writeFileSync(join(dir, 'src', 'main.js'), `${imports}\ndocument.body.textContent = String(${Array.from({ length: 20 }, (_, i) => `f${i}(1)`).join(' + ')});\n`);
    writeFileSync(join(dir, 'index.html'), '<!doctype html>\n<html><body><script type="module" src="/src/main.js"></script></body></html>\n');
    writeFileSync(join(dir, 'vite.config.js'), "export default { clearScreen: false, server: { host: '0.0.0.0', strictPort: true } };\n");
    const { version } = JSON.parse((await run('node', ['-p', 'JSON.stringify(require("./node_modules/vite/package.json"))'], { cwd: dir })).stdout);
    return { dir, version };
  } catch (err) {
    return { skipped: `could not prepare a Vite project in ${dir}: ${err.message.split('\n')[0]}` };
  }
}

/** The pod command: the project's own vite, as the image's tini would run it. */
export const VITE_COMMAND = ['node', 'node_modules/vite/bin/vite.js', '--host', '0.0.0.0', '--port', String(VITE_PORT), '--strictPort'];

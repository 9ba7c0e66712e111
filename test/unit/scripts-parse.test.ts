// Every script in scripts/ must at least parse: a benchmark or setup script with a SyntaxError is
// a broken feature even when no test runs it (issue 18, item 13). Node files are checked with
// `node --check`, shell scripts (a bash shebang or .sh) with `bash -n`.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from '../helpers/daemon.js';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

const scripts = files(join(ROOT, 'scripts'));
const node = scripts.filter((f) => /\.(mjs|cjs|js)$/.test(f));
const shell = scripts.filter((f) => f.endsWith('.sh') || /^#!.*\bbash\b/.test(readFileSync(f, 'utf8').split('\n', 1)[0] ?? ''));

t.ok(node.length > 0 && shell.length > 0, 'finds the Node and shell scripts');
for (const f of node) {
  const r = spawnSync(process.execPath, ['--check', f], { encoding: 'utf8' });
  t.equal(r.status, 0, `node --check ${f.slice(ROOT.length + 1)}`, { stderr: r.stderr });
}
for (const f of shell) {
  const r = spawnSync('bash', ['-n', f], { encoding: 'utf8' });
  t.equal(r.status, 0, `bash -n ${f.slice(ROOT.length + 1)}`, { stderr: r.stderr });
}

// scripts/install-systemd into a staging root (--destdir), from a build tree owned by another
// user: the installed code must not keep the build user's ownership or group/other write bits
// (the daemon runs it with docker-group rights), and no fixed daemon.json snippet is installed
// (runsc is registered by the same probe as ./scripts/up on a real host).
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { minimalBuildTree, walk } from '../helpers/install-tree.js';

const run = promisify(execFile);
const BUILD_UID = 4242;

t.test('install-systemd --destdir: root-owned code nobody else can write; no fixed daemon.json', { skip: process.getuid?.() !== 0 && 'needs root (chown)' }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'pinacled-install-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  // A minimal build tree: the script, its library, the unit, a dist/ and an empty node_modules.
  const src = join(work, 'src-tree');
  minimalBuildTree(src);
  for (const p of [src, ...walk(src)]) {
    chownSync(p, BUILD_UID, BUILD_UID);
    if (!lstatSync(p).isSymbolicLink()) chmodSync(p, lstatSync(p).isDirectory() || p.endsWith('install-systemd') ? 0o777 : 0o666);
  }
  const dest = join(work, 'root');
  const { stderr } = await run(join(src, 'scripts', 'install-systemd'), ['--destdir', dest], { encoding: 'utf8' });
  t.match(stderr, /app installed in/);
  const app = join(dest, 'opt', 'pinacled');
  t.ok(existsSync(join(app, 'dist', 'main.js')), 'the app is installed');
  const bad = [app, ...walk(app)].filter((p) => {
    const s = lstatSync(p);
    return s.uid !== 0 || s.gid !== 0 || (!s.isSymbolicLink() && (s.mode & 0o022) !== 0);
  });
  t.same(bad, [], 'every installed file is root:root and not group/other writable');
  t.notOk(existsSync(join(dest, 'etc', 'docker', 'daemon.json')), 'no daemon.json from a fixed snippet');
  t.match(stderr, /no engine to probe/, 'says how runsc gets registered');
});

// Issue 18 item 6: a fresh Debian 12 host has no Node 20 (its nodejs is 18). The host setup's
// Node detection (scripts/lib/node.sh, run by ./scripts/up and ./scripts/test before npm ci)
// runs here in a fresh Debian 12 root made with debootstrap: first with no Node at all, then
// with Debian 12's own nodejs 18 installed from Debian, and must leave a working Node 20 + npm
// on PATH both times.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { ROOT } from '../helpers/daemon.js';

const run = promisify(execFile);
const MIRROR = process.env.PINACLED_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
// Reused between runs: debootstrap is the slow part (about two minutes).
const CACHE = process.env.PINACLED_TEST_CACHE ?? '/var/cache/pinacled';
const base = join(CACHE, 'bookworm-minbase-curl');

async function sh(cmd: string, args: string[], timeout = 600_000): Promise<string> {
  const { stdout, stderr } = await run(cmd, args, { timeout, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' });
  return `${stdout}${stderr}`;
}

const skip = process.getuid?.() !== 0 ? 'needs root (debootstrap, chroot)' : (await sh('sh', ['-c', 'command -v debootstrap || true'])).trim() ? false : 'debootstrap is missing';

t.test('Node detection in a fresh Debian 12 root', { skip }, async (t) => {
  if (!existsSync(join(base, 'etc/debian_version'))) {
    rmSync(`${base}.partial`, { recursive: true, force: true });
    mkdirSync(CACHE, { recursive: true });
    await sh('debootstrap', ['--variant=minbase', '--include=curl,ca-certificates,openssl', 'bookworm', `${base}.partial`, MIRROR]);
    renameSync(`${base}.partial`, base);
  }
  const root = join(CACHE, `node-setup-${process.pid}`);
  await sh('cp', ['-a', base, root]);
  const mounted: string[] = [];
  t.teardown(async () => {
    for (const m of mounted.reverse()) await sh('umount', ['-l', m]).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });
  await sh('mount', ['-t', 'proc', 'proc', join(root, 'proc')]);
  mounted.push(join(root, 'proc'));
  cpSync('/etc/resolv.conf', join(root, 'etc/resolv.conf'));
  // A host trusts what its operator added (here: the proxy CA of this workplace); so does the root.
  const localCas = '/usr/local/share/ca-certificates';
  if (existsSync(localCas)) cpSync(localCas, join(root, localCas), { recursive: true });
  mkdirSync(join(root, 'setup'), { recursive: true });
  cpSync(join(ROOT, 'scripts/lib/node.sh'), join(root, 'setup/node.sh'));
  const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  const inRoot = (script: string) => sh('chroot', [root, '/usr/bin/env', '-i', `PATH=${PATH}`, 'HOME=/root', 'bash', '-c', script]);
  writeFileSync(join(root, 'setup/check.sh'), 'set -e; source /setup/node.sh; ensure_node; node --version; npm --version; echo "nodedir=$(npm config get nodedir)"\n');

  await inRoot('update-ca-certificates >/dev/null 2>&1');
  t.match(await inRoot('command -v node || echo none'), /^none/, 'the fresh root has no Node');
  const first = await inRoot('bash /setup/check.sh');
  t.match(first, /no Node\.js found: installing Node 20\./, 'it says what it installs');
  t.match(first, /^v20\.\d+\.\d+$/m, 'node --version: Node 20');
  t.match(first, /^10\.\d+\.\d+$/m, 'npm --version: npm 10');
  t.match(first, /nodedir=\/usr\/local\/lib\/pinacled\/node-20/, 'npm builds native addons against the unpacked headers');
  t.ok(existsSync(join(root, 'usr/local/lib/pinacled', `node-${/v(20\.\d+\.\d+)/.exec(first)?.[1]}-x64/include/node/node.h`)), 'the headers are there');
  const again = await inRoot('bash /setup/check.sh');
  t.notMatch(again, /installing/, 'a second run changes nothing');

  // Debian 12's own Node: 18, too old. Our links go; Debian's package comes in.
  await inRoot('rm /usr/local/bin/node /usr/local/bin/npm /usr/local/bin/npx; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs >/dev/null');
  t.match(await inRoot('node --version'), /^v18\./, "Debian 12's nodejs is Node 18");
  const old = await inRoot('bash /setup/check.sh');
  t.match(old, /Node\.js v18\.\S+ is older than 20: installing Node 20\./, 'too old is detected and said');
  t.match(old, /^v20\.\d+\.\d+$/m, 'node on PATH is Node 20 again');
  t.match(await inRoot('/usr/bin/node --version'), /^v18\./, "Debian's package is left as it was");
});

// The systemd unit passes `systemd-analyze verify` (Debian's systemd package provides it; it
// does not need systemd to be the running init) and keeps the hardening the issue asks for.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import t from 'tap';

const run = promisify(execFile);
const unit = new URL('../../systemd/pinacled.service', import.meta.url).pathname;

async function hasSystemdAnalyze(): Promise<boolean> {
  try {
    await run('systemd-analyze', ['--version']);
    return true;
  } catch {
    return false;
  }
}

t.test('systemd-analyze verify is clean', { skip: (await hasSystemdAnalyze()) ? false : 'systemd-analyze is not installed (apt-get install systemd)' }, async (t) => {
  const { stdout, stderr } = await run('systemd-analyze', ['verify', unit]).catch((e: { stdout: string; stderr: string; code: number }) => {
    t.fail(`systemd-analyze verify exited ${e.code}`);
    return e;
  });
  t.equal(`${stdout}${stderr}`.trim(), '', 'no warning or error');
});

t.test('the unit keeps its hardening and its contract', async (t) => {
  const text = readFileSync(unit, 'utf8');
  const has = (line: string) => t.match(text, new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), line);
  has('ExecStart=node /opt/pinacled/dist/main.js');
  has('WorkingDirectory=/opt/pinacled');
  has('EnvironmentFile=/etc/pinacled/env');
  has('StateDirectory=pinacled');
  has('Requires=docker.service');
  has('Restart=on-failure');
  has('KillSignal=SIGTERM');
  has('SupplementaryGroups=docker');
  for (const opt of ['NoNewPrivileges', 'ProtectHome', 'PrivateTmp', 'ProtectKernelTunables', 'ProtectKernelModules',
    'RestrictSUIDSGID', 'LockPersonality']) has(`${opt}=yes`);
  has('ProtectSystem=strict');
  t.match(text, /^After=.*docker\.service/m);
  t.match(text, /^TimeoutStopSec=\d+s$/m);
  t.notMatch(text, /^MemoryDenyWriteExecute=yes/m, "V8's JIT needs W+X memory");
  t.notMatch(text, /^PrivateUsers=yes/m, 'the docker group must stay mapped');
});

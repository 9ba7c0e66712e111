import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config/load.js';

const token = 'a-valid-token-of-some-length';

t.test('defaults', async (t) => {
  const c = loadConfig({ PINACLED_TOKEN: token });
  t.equal(c.host, '127.0.0.1');
  t.equal(c.port, 7070);
  t.equal(c.dataDir, '/var/lib/pinacled');
  t.equal(c.runtime, 'runsc');
  t.equal(c.publishHost, '127.0.0.1');
  t.same(c.portRange, { low: 30000, high: 32767 });
  t.equal(c.allowUnsandboxed, false);
  t.same(c.tokens, [token]);
  const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  t.equal(c.podMaxHostPids, Math.floor(pidMax / 4), `one pod holds at most a quarter of this host's pid_max (${pidMax})`);
  t.equal(loadConfig({ PINACLED_TOKEN: token, PINACLED_POD_MAX_HOST_PIDS: '20000' }).podMaxHostPids, 20000);
});

t.test('refuses to start without a token, naming the variable', async (t) => {
  t.throws(() => loadConfig({}), { name: 'ConfigError', message: /PINACLED_TOKEN_FILE/ });
});

t.test('invalid values name the variable', async (t) => {
  const bad: [Record<string, string>, RegExp][] = [
    [{ PINACLED_PORT: 'x' }, /PINACLED_PORT/],
    [{ PINACLED_PORT_RANGE: '9-5' }, /PINACLED_PORT_RANGE/],
    [{ PINACLED_PORT_RANGE: '40000-30000' }, /PINACLED_PORT_RANGE/],
    [{ PINACLED_PUBLISH_HOST: 'not-an-ip' }, /PINACLED_PUBLISH_HOST/],
    [{ PINACLED_ALLOW_UNSANDBOXED: 'maybe' }, /PINACLED_ALLOW_UNSANDBOXED/],
    [{ PINACLED_TOKEN: 'short' }, /at least 16/],
  ];
  for (const [env, re] of bad) {
    t.throws(() => loadConfig({ PINACLED_TOKEN: token, ...env }), { message: re }, JSON.stringify(env));
  }
});

t.test('token file: several tokens, comments, and a mode check', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pinacled-cfg-'));
  const file = join(dir, 'tokens');
  writeFileSync(file, `# rotated 2026-11\n${token}\n\nsecond-token-0123456789\n`);
  chmodSync(file, 0o600);
  t.same(loadConfig({ PINACLED_TOKEN_FILE: file }).tokens, [token, 'second-token-0123456789']);
  chmodSync(file, 0o644);
  t.throws(() => loadConfig({ PINACLED_TOKEN_FILE: file }), ConfigError);
  t.throws(() => loadConfig({ PINACLED_TOKEN_FILE: join(dir, 'missing') }), { message: /cannot read/ });
});

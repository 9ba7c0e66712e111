// scripts/up and scripts/install-systemd create the same two token files through one library
// (scripts/lib/tokens.sh): the API tokens and a metrics-only token, and the metrics token they
// create reads /metrics and nothing else (issue 18, item 8).
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { auth, fakeDaemon } from '../helpers/app.js';
import { minimalBuildTree, ROOT } from '../helpers/install-tree.js';

const run = promisify(execFile);
const LIB = join(ROOT, 'scripts', 'lib', 'tokens.sh');

/** Runs ./scripts/up's token step (export_token_env) with PINACLED_ETC=etc; the variables it exports and what it said. */
function upTokenStep(etc: string, env: Record<string, string> = {}) {
  const r = spawnSync('bash', ['-c', `set -euo pipefail; say() { echo "$*" >&2; }; source "${LIB}"; export_token_env; echo "$PINACLED_TOKEN_FILE"; echo "$PINACLED_METRICS_TOKEN_FILE"`], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, PINACLED_ETC: etc, ...env },
  });
  const [apiFile, metricsFile] = r.stdout.trim().split('\n');
  return { status: r.status, said: r.stderr, apiFile: apiFile ?? '', metricsFile: metricsFile ?? '' };
}

const oneToken = (file: string) => readFileSync(file, 'utf8').trim();

t.test("up's token step: two private files, one token each, distinct, created once", async (t) => {
  const etc = mkdtempSync(join(tmpdir(), 'pinacled-etc-'));
  t.teardown(() => rmSync(etc, { recursive: true, force: true }));
  const first = upTokenStep(etc);
  t.equal(first.status, 0, first.said);
  t.equal(first.apiFile, join(etc, 'tokens'));
  t.equal(first.metricsFile, join(etc, 'metrics-token'));
  t.match(first.said, /created API token file/);
  t.match(first.said, /created metrics token file/);
  for (const f of [first.apiFile, first.metricsFile]) {
    t.equal(statSync(f).mode & 0o777, 0o600, `${basename(f)} is 0600`);
    t.match(oneToken(f), /^[A-Za-z0-9]{40,}$/, `${basename(f)} holds one random token`);
  }
  t.not(oneToken(first.apiFile), oneToken(first.metricsFile), 'the metrics token is not the API token');
  const api = oneToken(first.apiFile);
  const again = upTokenStep(etc);
  t.notMatch(again.said, /created/, 'a second run creates nothing');
  t.equal(oneToken(again.apiFile), api, 'and keeps the token');

  // The name before `tokens`: renamed, so the token clients use keeps working.
  const legacy = mkdtempSync(join(tmpdir(), 'pinacled-etc-'));
  t.teardown(() => rmSync(legacy, { recursive: true, force: true }));
  writeFileSync(join(legacy, 'token'), 'legacy-token-0123456789abcdef\n', { mode: 0o600 });
  const adopted = upTokenStep(legacy);
  t.equal(oneToken(adopted.apiFile), 'legacy-token-0123456789abcdef', 'the old /etc/pinacled/token becomes tokens');
  t.match(adopted.said, /renamed/);

  const own = upTokenStep(etc, { PINACLED_TOKEN: 'x'.repeat(20), PINACLED_METRICS_TOKEN: 'y'.repeat(20) });
  t.same([own.apiFile, own.metricsFile], ['', ''], 'tokens passed by the operator: no file');
});

t.test('up and install-systemd use the same file names, through the one library', async (t) => {
  for (const script of ['up', 'install-systemd']) {
    // The code, not its comments (the usage text names the files for people).
    const text = readFileSync(join(ROOT, 'scripts', script), 'utf8').split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
    t.match(text, /source "?(\$ROOT\/)?scripts\/lib\/tokens\.sh"?/, `${script} sources scripts/lib/tokens.sh`);
    t.notMatch(text, /\/etc\/pinacled\/(token|metrics)/, `${script} spells no token path itself`);
    t.notMatch(text, /\/dev\/urandom/, `${script} makes no token itself`);
  }
  t.match(readFileSync(join(ROOT, 'scripts', 'up'), 'utf8'), /^export_token_env$/m, 'up runs the token step tested above');

  const etc = mkdtempSync(join(tmpdir(), 'pinacled-etc-'));
  t.teardown(() => rmSync(etc, { recursive: true, force: true }));
  const up = upTokenStep(etc);
  const names = [basename(up.apiFile), basename(up.metricsFile)];
  t.same(names, ['tokens', 'metrics-token']);

  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  t.match(readme, /TOKEN=\$\(head -n1 \/etc\/pinacled\/tokens\)/, 'the README walk-through reads the same API token file');
  t.match(readme, /\/etc\/pinacled\/metrics-token/, 'the README names the metrics token file');
  t.notMatch(readme, /\/etc\/pinacled\/token\b(?!s)/, 'the README has no other name for it');

  if (process.getuid?.() !== 0) return void t.comment('skipped: install-systemd --destdir needs root (chown)');
  const work = mkdtempSync(join(tmpdir(), 'pinacled-install-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const script = minimalBuildTree(join(work, 'src'));
  const dest = join(work, 'root');
  const { stderr } = await run(script, ['--destdir', dest], { encoding: 'utf8' });
  const env = readFileSync(join(dest, 'etc', 'pinacled', 'env'), 'utf8');
  t.equal(/^PINACLED_TOKEN_FILE=(.*)$/m.exec(env)?.[1], `/etc/pinacled/${names[0]}`, 'the installed env reads the API file up uses');
  t.equal(/^PINACLED_METRICS_TOKEN_FILE=(.*)$/m.exec(env)?.[1], `/etc/pinacled/${names[1]}`, 'and the metrics file up uses');
  for (const name of names) {
    const f = join(dest, 'etc', 'pinacled', name);
    t.equal(statSync(f).mode & 0o777, 0o600, `install-systemd wrote ${name}, 0600`);
    t.match(oneToken(f), /^[A-Za-z0-9]{40,}$/);
  }
  t.match(stderr, /created metrics token file/);
  const again = await run(script, ['--destdir', dest], { encoding: 'utf8' });
  t.notMatch(again.stderr, /created/, 'a second install creates no token');
});

t.test('the metrics token the scripts create reads /metrics and is refused (403) on pod routes', async (t) => {
  const etc = mkdtempSync(join(tmpdir(), 'pinacled-etc-'));
  t.teardown(() => rmSync(etc, { recursive: true, force: true }));
  const { apiFile, metricsFile } = upTokenStep(etc);
  const d = await fakeDaemon(t, { PINACLED_TOKEN_FILE: apiFile, PINACLED_METRICS_TOKEN_FILE: metricsFile });
  const prom = { authorization: `Bearer ${oneToken(metricsFile)}` };
  t.equal((await d.app.inject({ url: '/metrics', headers: prom })).statusCode, 200, 'Prometheus scrapes');
  const pod = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { name: 'web', template: 'custom', image: 'pinacled/testbox:1' } })).json();
  for (const [method, url] of [['GET', '/v1/pods'], ['POST', '/v1/pods'], ['DELETE', `/v1/pods/${pod.id}`], ['POST', `/v1/pods/${pod.id}/stop`]] as const) {
    const res = await d.app.inject({ method, url, headers: prom, ...(method === 'POST' ? { payload: {} } : {}) });
    t.equal(res.statusCode, 403, `${method} ${url} with the metrics token: 403`);
    t.match(res.headers['content-type'], /^application\/problem\+json/);
    t.equal(res.json().code, 'PINACLED_ERR_FORBIDDEN');
  }
  const api = { authorization: `Bearer ${oneToken(apiFile)}` };
  t.equal((await d.app.inject({ url: `/v1/pods/${pod.id}`, headers: api })).json().state, 'running', 'the API token from the same step works, and the pod is untouched');
});

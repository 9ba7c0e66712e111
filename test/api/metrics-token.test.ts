// The metrics-only token (what scripts/up and scripts/install-systemd create for Prometheus,
// issue 18 item 8) reads /metrics and is refused with 403 PINACLED_ERR_FORBIDDEN everywhere
// else: a scrape config cannot create, stop or delete pods.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { PUBLIC_ROUTES, routesOf } from '../../src/app.js';
import { auth, fakeDaemon } from '../helpers/app.js';

const METRICS_TOKEN = 'metrics-only-token-0123456789';

t.test('a metrics token from PINACLED_METRICS_TOKEN_FILE: /metrics yes, every other route 403', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pinacled-metrics-token-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'metrics-token');
  writeFileSync(file, `${METRICS_TOKEN}\n`, { mode: 0o600 });
  const d = await fakeDaemon(t, { PINACLED_METRICS_TOKEN_FILE: file });
  const pod = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: { name: 'web', template: 'custom', image: 'pinacled/testbox:1' } })).json();
  const metrics = { authorization: `Bearer ${METRICS_TOKEN}` };

  const scrape = await d.app.inject({ url: '/metrics', headers: metrics });
  t.equal(scrape.statusCode, 200, 'the metrics token reads /metrics');
  t.match(scrape.body, /pinacled_pods/);

  let refused = 0;
  for (const r of routesOf(d.app)) {
    if (PUBLIC_ROUTES.has(r.url) || r.url === '/metrics' || r.method === 'HEAD') continue;
    const url = r.url.replace(/:(\w+)/g, (_m, name: string) => (name === 'id' ? pod.id : 'x'));
    const res = await d.app.inject({ method: r.method as 'GET', url, headers: metrics, ...(r.method === 'POST' ? { payload: {} } : {}) });
    t.equal(res.statusCode, 403, `${r.method} ${r.url}: 403`);
    t.match(res.headers['content-type'], /^application\/problem\+json/);
    t.equal(res.json().code, 'PINACLED_ERR_FORBIDDEN', `${r.method} ${r.url}: PINACLED_ERR_FORBIDDEN`);
    t.equal(res.headers['www-authenticate'], undefined, 'a 403, not a challenge for another token');
    refused++;
  }
  t.ok(refused >= 10, `${refused} pod and event routes refused`);
  const after = await d.app.inject({ url: `/v1/pods/${pod.id}`, headers: auth });
  t.equal(after.json().state, 'running', 'the pod is untouched (stop, restart, delete were refused)');
  t.equal(d.runtime.containers.size, 1);

  const api = await d.app.inject({ url: '/metrics', headers: auth });
  t.equal(api.statusCode, 403, 'an API token on /metrics while a metrics token is set: 403');
  t.equal(api.json().code, 'PINACLED_ERR_FORBIDDEN');
  const wrong = await d.app.inject({ url: '/metrics', headers: { authorization: 'Bearer not-a-token-at-all-0000' } });
  t.equal(wrong.statusCode, 401, 'an unknown token is still a 401');
});

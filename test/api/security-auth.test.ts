import t from 'tap';
import { PUBLIC_ROUTES, routesOf } from '../../src/app.js';
import { fakeDaemon, TEST_TOKEN } from '../helpers/app.js';

/** Every way of not presenting a valid token. */
const BAD: [string, Record<string, string>][] = [
  ['no header', {}],
  ['wrong token, same length', { authorization: `Bearer ${'x'.repeat(TEST_TOKEN.length)}` }],
  ['wrong token, shorter', { authorization: 'Bearer short' }],
  ['wrong token, longer', { authorization: `Bearer ${TEST_TOKEN}x` }],
  ['prefix of the token', { authorization: `Bearer ${TEST_TOKEN.slice(0, -1)}` }],
  ['empty bearer', { authorization: 'Bearer ' }],
  ['token without scheme', { authorization: TEST_TOKEN }],
  ['Basic scheme', { authorization: `Basic ${TEST_TOKEN}` }],
  ['wrong websocket subprotocol', { 'sec-websocket-protocol': `bearer.${'y'.repeat(TEST_TOKEN.length)}` }],
  ['token in another header', { 'x-api-key': TEST_TOKEN }],
];

t.test('401 on every non-public route of the route table, for every bad credential', async (t) => {
  const d = await fakeDaemon(t);
  const routes = routesOf(d.app);
  t.ok(routes.length >= 10, `the route table holds ${routes.length} routes`);
  t.ok(routes.some((r) => r.method === 'POST' && r.url === '/v1/pods'), 'it sees POST /v1/pods');
  t.ok(routes.some((r) => r.method === 'GET' && r.url === '/metrics'), 'it sees /metrics');
  let checked = 0;
  for (const r of routes) {
    const url = r.url.replace(/:(\w+)/g, (_m, name: string) => (name === 'id' ? 'p0000000000000000' : 'x')).replace(/\*$/, 'x');
    const isPublic = PUBLIC_ROUTES.has(r.url);
    for (const [what, headers] of BAD) {
      const res = await d.app.inject({ method: r.method as 'GET', url, headers, ...(r.method === 'POST' ? { payload: {} } : {}) });
      if (isPublic) {
        t.not(res.statusCode, 401, `${r.method} ${r.url} is public (${what})`);
        continue;
      }
      checked++;
      if (res.statusCode !== 401) {
        t.fail(`${r.method} ${r.url} with ${what}: ${res.statusCode}`);
        continue;
      }
      // HEAD answers carry no body.
      if (r.method !== 'HEAD') t.equal(res.json().code, 'PINACLED_ERR_UNAUTHORIZED', `${r.method} ${r.url}: ${what}`);
      t.equal(res.headers['www-authenticate'], 'Bearer realm="pinacled"');
    }
  }
  t.comment(`${checked} unauthenticated requests over ${routes.filter((r) => !PUBLIC_ROUTES.has(r.url)).length} non-public routes: all 401`);
  // And the valid token passes the same gate (the test above can fail).
  const ok = await d.app.inject({ url: '/v1/pods', headers: { authorization: `Bearer ${TEST_TOKEN}` } });
  t.equal(ok.statusCode, 200);
});

t.test('unknown routes are 401 before they are 404 (no route discovery without a token)', async (t) => {
  const d = await fakeDaemon(t);
  t.equal((await d.app.inject({ url: '/v1/secret-admin' })).statusCode, 401);
  t.equal((await d.app.inject({ url: '/v1/secret-admin', headers: { authorization: `Bearer ${TEST_TOKEN}` } })).statusCode, 404);
});

// A known path with a method it does not take is a 405 problem with `Allow` taken from Fastify's
// router, not a 404 (issue 18, item 9). Unknown paths stay 404, with no Allow.
import t from 'tap';
import { methodsFor, routesOf } from '../../src/api/route-table.js';
import { auth, fakeDaemon } from '../helpers/app.js';

t.test('a wrong method on a known path: 405, problem+json, Allow lists the path\'s methods', async (t) => {
  const d = await fakeDaemon(t);
  const cases: [method: 'PUT' | 'DELETE' | 'GET' | 'PATCH' | 'POST', url: string, allow: string][] = [
    ['PUT', '/v1/pods', 'GET, HEAD, POST'],
    ['PATCH', '/v1/pods/p0000000000000000', 'DELETE, GET, HEAD'],
    ['GET', '/v1/pods/p0000000000000000/start', 'POST'],
    ['DELETE', '/metrics', 'GET, HEAD'],
    ['POST', '/v1/templates?x=1', 'GET, HEAD'],
  ];
  for (const [method, url, allow] of cases) {
    const res = await d.app.inject({ method, url, headers: auth, ...(method === 'POST' ? { payload: {} } : {}) });
    t.equal(res.statusCode, 405, `${method} ${url} -> 405`);
    t.match(res.headers['content-type'], /^application\/problem\+json/);
    t.equal(res.json().code, 'PINACLED_ERR_METHOD_NOT_ALLOWED');
    t.equal(res.json().instance, url.split('?')[0]);
    t.equal(res.headers.allow, allow, `Allow: ${allow}`);
  }
  const unknown = await d.app.inject({ method: 'PUT', url: '/v1/nothing', headers: auth });
  t.equal(unknown.statusCode, 404);
  t.equal(unknown.json().code, 'PINACLED_ERR_NOT_FOUND');
  t.equal(unknown.headers.allow, undefined, 'an unknown path has no Allow');
});

t.test('Allow is what the router serves: each listed method really answers, for every registered path', async (t) => {
  const d = await fakeDaemon(t);
  const paths = new Set(routesOf(d.app).map((r) => r.url.replace(/:(\w+)/g, 'p0000000000000000')));
  for (const path of paths) {
    const allow = methodsFor(d.app, path);
    const registered = routesOf(d.app).filter((r) => r.url.replace(/:(\w+)/g, 'p0000000000000000') === path).map((r) => r.method);
    t.same(allow, [...new Set(registered)].sort(), `${path}: Allow ${allow.join(', ')} is its registered methods`);
  }
});

t.test('the 405 comes after authentication, like the 404', async (t) => {
  const d = await fakeDaemon(t);
  const res = await d.app.inject({ method: 'PUT', url: '/v1/pods' });
  t.equal(res.statusCode, 401);
  t.equal(res.headers.allow, undefined);
});

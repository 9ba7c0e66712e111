import { connect as tcpConnect } from 'node:net';
import t from 'tap';
import { auth, fakeDaemon } from '../helpers/app.js';

const custom = { name: 'web', template: 'custom', image: 'pinacled/testbox:1', command: ['sleep', '3600'] };

/** An idle socket limit of 1 s (PINACLED_CONNECTION_TIMEOUT_MS), on a real listening socket. */
async function daemonWithShortLimits(t: Parameters<typeof fakeDaemon>[0], env: Record<string, string> = {}) {
  const d = await fakeDaemon(t, { PINACLED_CONNECTION_TIMEOUT_MS: '1000', ...env });
  const base = await d.app.listen({ host: '127.0.0.1', port: 0 });
  return { d, base, port: Number(new URL(base).port) };
}

t.test('a stop that takes longer than the idle socket limit still gets its answer', async (t) => {
  // The request-receipt limit too: it bounds receiving the request, not the handler.
  const { d, base } = await daemonWithShortLimits(t, { PINACLED_REQUEST_TIMEOUT_MS: '1000' });
  const pod = (await d.app.inject({ method: 'POST', url: '/v1/pods', headers: auth, payload: custom })).json();
  d.runtime.ignoreSigterm = true;
  const started = Date.now();
  const res = await fetch(`${base}/v1/pods/${pod.id}/stop?timeout=3`, { method: 'POST', headers: auth });
  const took = Date.now() - started;
  t.equal(res.status, 200);
  t.equal(((await res.json()) as { state: string }).state, 'stopped');
  t.ok(took >= 3000, `answered after the 3 s grace period (${took} ms), three times the 1 s idle limit`);

  const again = await fetch(`${base}/v1/pods/${pod.id}/start`, { method: 'POST', headers: auth });
  t.equal(again.status, 200, 'the next request on the daemon is served as usual');
  const restart = await fetch(`${base}/v1/pods/${pod.id}/restart?timeout=2`, { method: 'POST', headers: auth });
  t.equal(restart.status, 200, 'restart with a grace period past the idle limit');
  const del = await fetch(`${base}/v1/pods/${pod.id}?timeout=2`, { method: 'DELETE', headers: auth });
  t.equal(del.status, 204, 'delete with a grace period past the idle limit');
});

t.test('a connection with no request in progress is still closed at the idle limit', async (t) => {
  const { port } = await daemonWithShortLimits(t);
  const started = Date.now();
  const sock = tcpConnect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve) => sock.on('close', () => resolve()).on('error', () => undefined));
  const took = Date.now() - started;
  t.ok(took >= 900 && took < 10_000, `a silent connection closed after ${took} ms (headers timeout: 30 s)`);
});

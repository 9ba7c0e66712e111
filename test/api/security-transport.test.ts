import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { createDaemon } from '../../src/daemon.js';
import { createLogger } from '../../src/logger.js';
import { FakeRuntime } from '../helpers/fakes/fake-runtime.js';
import { auth, fakeDaemon, OPENAPI_PATH, TEST_TOKEN } from '../helpers/app.js';

/** A CA, a server certificate for 127.0.0.1, a client certificate, and one from a foreign CA. */
function makePki(dir: string) {
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const key = (name: string) => ossl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', `${name}.key`);
  for (const ca of ['ca', 'evil-ca']) {
    key(ca);
    ossl('req', '-x509', '-new', '-key', `${ca}.key`, '-out', `${ca}.crt`, '-days', '1', '-subj', `/CN=${ca}`);
  }
  const issue = (name: string, ca: string, ext: string) => {
    key(name);
    ossl('req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    writeFileSync(join(dir, `${name}.ext`), ext);
    ossl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.ext`);
  };
  issue('server', 'ca', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  issue('client', 'ca', 'extendedKeyUsage=clientAuth\n');
  issue('intruder', 'evil-ca', 'extendedKeyUsage=clientAuth\n');
  for (const f of ['ca', 'evil-ca', 'server', 'client', 'intruder']) chmodSync(join(dir, `${f}.key`), 0o600);
  const read = (f: string) => readFileSync(join(dir, f));
  return { dir, read };
}

function get(port: number, path: string, opts: { ca: Buffer; cert?: Buffer; key?: Buffer; token?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path, ca: opts.ca, cert: opts.cert, key: opts.key, headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {}, timeout: 5000 },
      (res) => {
        let body = '';
        res.on('data', (b) => (body += b));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

async function tlsDaemon(t: Test, env: Record<string, string>) {
  const dataDir = mkdtempSync(join(tmpdir(), 'pinacled-tls-'));
  const config = loadConfig({ PINACLED_TOKEN: TEST_TOKEN, PINACLED_DATA_DIR: dataDir, PINACLED_RATE_LIMIT_PER_MIN: '0', ...env });
  const d = await createDaemon(config, new FakeRuntime(), createLogger('silent'), OPENAPI_PATH);
  t.teardown(async () => {
    await d.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  await d.reconciler.runOnce();
  await d.app.listen({ host: '127.0.0.1', port: 0 });
  return { d, port: (d.app.server.address() as { port: number }).port };
}

t.test('TLS and client certificates', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pinacled-pki-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pki = makePki(dir);
  const ca = pki.read('ca.crt');
  const files = { PINACLED_TLS_CERT: join(dir, 'server.crt'), PINACLED_TLS_KEY: join(dir, 'server.key') };

  t.test('server TLS only: HTTPS answers, plain HTTP does not', async (t) => {
    const { port } = await tlsDaemon(t, files);
    t.equal((await get(port, '/healthz', { ca })).status, 200);
    t.equal((await get(port, '/v1/pods', { ca })).status, 401, 'the token is still required');
    t.equal((await get(port, '/v1/pods', { ca, token: TEST_TOKEN })).status, 200);
    const plain = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status).catch(() => 'refused');
    t.not(plain, 200, 'no plain HTTP on the TLS port');
  });

  t.test('client CA: the handshake refuses clients without a certificate that CA signed', async (t) => {
    const { port } = await tlsDaemon(t, { ...files, PINACLED_TLS_CLIENT_CA: join(dir, 'ca.crt') });
    const client = { cert: pki.read('client.crt'), key: pki.read('client.key') };
    t.equal((await get(port, '/v1/pods', { ca, ...client, token: TEST_TOKEN })).status, 200, 'certificate + token');
    t.equal((await get(port, '/v1/pods', { ca, ...client })).status, 401, 'certificate without token');
    await t.rejects(get(port, '/healthz', { ca }), 'no certificate: no connection, not even /healthz');
    await t.rejects(get(port, '/v1/pods', { ca, cert: pki.read('intruder.crt'), key: pki.read('intruder.key'), token: TEST_TOKEN }), 'a certificate from another CA is refused, token or not');
  });

  t.test('bad TLS configuration stops the start with the variable named', async (t) => {
    t.throws(() => loadConfig({ PINACLED_TOKEN: TEST_TOKEN, PINACLED_TLS_CERT: files.PINACLED_TLS_CERT }), { message: /PINACLED_TLS_KEY/ });
    t.throws(() => loadConfig({ PINACLED_TOKEN: TEST_TOKEN, PINACLED_TLS_CLIENT_CA: join(dir, 'ca.crt') }), { message: /PINACLED_TLS_CLIENT_CA/ });
    chmodSync(files.PINACLED_TLS_KEY, 0o644);
    await t.rejects(tlsDaemon(t, files), { name: 'TlsConfigError', message: /PINACLED_TLS_KEY: .* must not be readable by group or others/ });
    chmodSync(files.PINACLED_TLS_KEY, 0o600);
    await t.rejects(tlsDaemon(t, { ...files, PINACLED_TLS_CERT: join(dir, 'missing.crt') }), { name: 'TlsConfigError', message: /PINACLED_TLS_CERT: cannot read/ });
  });
});

/** Sends `text` on a raw connection and returns what comes back and when the server closed it. */
function slowClient(port: number, text: string): Promise<{ answer: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const s = connect(port, '127.0.0.1', () => s.write(text));
    let answer = '';
    s.on('data', (b) => (answer += b.toString()));
    s.on('error', reject);
    s.on('close', () => resolve({ answer, ms: Date.now() - t0 }));
    setTimeout(() => s.destroy(), 15_000).unref();
  });
}

t.test('request timeout: a client that never finishes its request gets a 408 problem; handlers are not cut', async (t) => {
  const d = await fakeDaemon(t, { PINACLED_REQUEST_TIMEOUT_MS: '1000' });
  await d.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (d.app.server.address() as { port: number }).port;
  const body = await slowClient(port, `POST /v1/pods HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"name":`);
  t.match(body.answer, /^HTTP\/1\.1 408 /);
  t.match(body.answer, /content-type: application\/problem\+json/i);
  t.match(body.answer, /"code":"PINACLED_ERR_REQUEST_TIMEOUT"/);
  t.ok(body.ms >= 900 && body.ms < 5000, `closed after ${body.ms} ms (timeout 1000 ms)`);
  const headers = await slowClient(port, 'GET /v1/pods HTTP/1.1\r\nHost: x\r\n');
  t.match(headers.answer, /^HTTP\/1\.1 408 /, 'unfinished headers too');
  t.ok(headers.ms < 5000, `closed after ${headers.ms} ms`);
  const garbage = await slowClient(port, 'NOT HTTP AT ALL\r\n\r\n');
  t.match(garbage.answer, /^HTTP\/1\.1 400 /);
  t.match(garbage.answer, /"code":"PINACLED_ERR_VALIDATION"/);
  // A create whose engine calls take 1.5 s in total still answers: the timeout bounds receiving.
  d.runtime.latencyMs = 250;
  const t0 = Date.now();
  const res = await fetch(`http://127.0.0.1:${port}/v1/pods`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'slow', template: 'custom', image: 'pinacled/testbox:1' }) });
  t.equal(res.status, 201);
  t.ok(Date.now() - t0 > 1000, `the handler ran ${Date.now() - t0} ms, longer than the request timeout`);
});

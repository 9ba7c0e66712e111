import t from 'tap';
import { loadConfig } from '../../src/config/load.js';

const token = 'a-valid-token-of-some-length';

t.test('security defaults', async (t) => {
  const c = loadConfig({ PINACLED_TOKEN: token });
  t.equal(c.podSubnetPool, '10.213.0.0/16');
  t.equal(c.podSubnetPrefix, 28);
  t.same(c.firewall, { mode: 'install', checkIntervalMs: 30_000, allow: '', block: [] });
  t.same(c.rateLimit, { perMinute: 120, burst: 60 });
  t.equal(c.requestTimeoutMs, 30_000);
  t.equal(c.connectionTimeoutMs, 130_000);
  t.equal(c.tls, undefined);
});

t.test('invalid security settings name the variable', async (t) => {
  const bad: [Record<string, string>, RegExp][] = [
    [{ PINACLED_PUBLISH_HOST: '0.0.0.0' }, /PINACLED_PUBLISH_HOST: must be a specific address/],
    [{ PINACLED_PUBLISH_HOST: '::' }, /PINACLED_PUBLISH_HOST/],
    [{ PINACLED_POD_SUBNET_POOL: '10.213.0.1/16' }, /PINACLED_POD_SUBNET_POOL/],
    [{ PINACLED_POD_SUBNET_POOL: 'fd00::/8' }, /PINACLED_POD_SUBNET_POOL/],
    [{ PINACLED_POD_SUBNET_POOL: '10.213.0.0/24', PINACLED_POD_SUBNET_PREFIX: '20' }, /PINACLED_POD_SUBNET_PREFIX/],
    [{ PINACLED_POD_SUBNET_PREFIX: '30' }, /PINACLED_POD_SUBNET_PREFIX/],
    [{ PINACLED_FIREWALL: 'maybe' }, /PINACLED_FIREWALL/],
    [{ PINACLED_FIREWALL_ALLOW: 'proxy.local:3128' }, /PINACLED_FIREWALL_ALLOW/],
    [{ PINACLED_FIREWALL_BLOCK: '192.0.2.0/33' }, /PINACLED_FIREWALL_BLOCK/],
    [{ PINACLED_RATE_LIMIT_PER_MIN: '-1' }, /PINACLED_RATE_LIMIT_PER_MIN/],
    [{ PINACLED_RATE_LIMIT_BURST: '0' }, /PINACLED_RATE_LIMIT_BURST/],
    [{ PINACLED_REQUEST_TIMEOUT_MS: '10' }, /PINACLED_REQUEST_TIMEOUT_MS/],
    [{ PINACLED_TLS_KEY: '/k' }, /PINACLED_TLS_CERT/],
  ];
  for (const [env, re] of bad) t.throws(() => loadConfig({ PINACLED_TOKEN: token, ...env }), { message: re }, JSON.stringify(env));
});

t.test('accepted forms', async (t) => {
  const c = loadConfig({
    PINACLED_TOKEN: token,
    PINACLED_PUBLISH_HOST: '10.0.0.5',
    PINACLED_POD_SUBNET_POOL: '172.30.0.0/16',
    PINACLED_POD_SUBNET_PREFIX: '29',
    PINACLED_FIREWALL: 'check',
    PINACLED_FIREWALL_ALLOW: '10.1.2.3:3128/tcp, 10.9.0.0/16',
    PINACLED_FIREWALL_BLOCK: '192.0.2.0/24,198.51.100.7',
    PINACLED_RATE_LIMIT_PER_MIN: '0',
    PINACLED_TLS_CERT: '/c',
    PINACLED_TLS_KEY: '/k',
    PINACLED_TLS_CLIENT_CA: '/ca',
  });
  t.equal(c.firewall.mode, 'check');
  t.same(c.firewall.block, ['192.0.2.0/24', '198.51.100.7']);
  t.same(c.tls, { cert: '/c', key: '/k', clientCa: '/ca' });
  t.equal(c.rateLimit.perMinute, 0);
});

import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config/load.js';

const base = { PINACLED_TOKEN: 'test-token-0123456789abcdef' };

t.test('PINACLED_STATS_INTERVAL_S: default 10 s, fractions allowed, bounded', async (t) => {
  t.equal(loadConfig(base).statsIntervalMs, 10_000);
  t.equal(loadConfig({ ...base, PINACLED_STATS_INTERVAL_S: '2.5' }).statsIntervalMs, 2500);
  t.throws(() => loadConfig({ ...base, PINACLED_STATS_INTERVAL_S: '0.1' }), ConfigError);
  t.throws(() => loadConfig({ ...base, PINACLED_STATS_INTERVAL_S: 'often' }), ConfigError);
});

t.test('PINACLED_METRICS_TOKEN: optional, at least 16 characters', async (t) => {
  t.equal(loadConfig(base).metricsToken, undefined);
  t.equal(loadConfig({ ...base, PINACLED_METRICS_TOKEN: 'metrics-token-0123456789' }).metricsToken, 'metrics-token-0123456789');
  t.throws(() => loadConfig({ ...base, PINACLED_METRICS_TOKEN: 'short' }), { message: /PINACLED_METRICS_TOKEN/ });
});

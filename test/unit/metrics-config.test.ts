import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  t.same(loadConfig(base).metricsTokens, []);
  t.same(loadConfig({ ...base, PINACLED_METRICS_TOKEN: 'metrics-token-0123456789' }).metricsTokens, ['metrics-token-0123456789']);
  t.throws(() => loadConfig({ ...base, PINACLED_METRICS_TOKEN: 'short' }), { message: /PINACLED_METRICS_TOKEN/ });
});

t.test('PINACLED_METRICS_TOKEN_FILE: read once, private, not empty, never an API token', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pinacled-metrics-token-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'metrics-token');
  writeFileSync(file, '# for Prometheus\nmetrics-token-0123456789\n\nmetrics-token-rotated-98765\n', { mode: 0o600 });
  t.same(loadConfig({ ...base, PINACLED_METRICS_TOKEN_FILE: file }).metricsTokens, ['metrics-token-0123456789', 'metrics-token-rotated-98765']);
  chmodSync(file, 0o640);
  t.throws(() => loadConfig({ ...base, PINACLED_METRICS_TOKEN_FILE: file }), { message: /PINACLED_METRICS_TOKEN_FILE: .* must not be readable by group or others/ });
  writeFileSync(join(dir, 'empty'), '\n', { mode: 0o600 });
  t.throws(() => loadConfig({ ...base, PINACLED_METRICS_TOKEN_FILE: join(dir, 'empty') }), { message: /PINACLED_METRICS_TOKEN_FILE: the file holds no token/ });
  t.throws(() => loadConfig({ ...base, PINACLED_METRICS_TOKEN_FILE: join(dir, 'missing') }), { message: /PINACLED_METRICS_TOKEN_FILE: cannot read/ });
  t.throws(() => loadConfig({ ...base, PINACLED_METRICS_TOKEN: base.PINACLED_TOKEN }), { message: /also an API token/ });
});

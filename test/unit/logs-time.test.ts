import t from 'tap';
import { normTs, parseTimeParam, shiftSeconds, toEngineSeconds } from '../../src/logs/time.js';

t.test('engine timestamps normalize to a sortable fixed width', async (t) => {
  t.equal(normTs('2026-11-26T23:54:49.7741224Z'), '2026-11-26T23:54:49.774122400Z');
  t.equal(normTs('2026-11-26T23:54:49Z'), '2026-11-26T23:54:49.000000000Z');
  t.equal(normTs('2026-11-26T23:54:49.5+01:00'), '2026-11-26T22:54:49.500000000Z');
  t.equal(normTs('yesterday'), null);
  // Go trims trailing zeros, so raw strings do not sort; normalized ones do.
  const a = '2026-11-26T23:54:49.1Z';
  const b = '2026-11-26T23:54:49.12Z';
  t.ok(a > b, 'raw engine strings compare wrongly');
  t.ok(normTs(a)! < normTs(b)!, 'normalized compare right');
});

t.test('since/until accept RFC 3339, Unix seconds and durations', async (t) => {
  const now = new Date('2026-01-01T00:10:00.250Z');
  t.equal(parseTimeParam('2026-01-01T00:00:00Z', now), '2026-01-01T00:00:00.000000000Z');
  t.equal(parseTimeParam('1767225600.5', now), '2026-01-01T00:00:00.500000000Z');
  t.equal(parseTimeParam('10m', now), '2026-01-01T00:00:00.250000000Z');
  t.equal(parseTimeParam('1h', now), '2025-12-31T23:10:00.250000000Z');
  t.equal(parseTimeParam('soon', now), null);
  t.equal(parseTimeParam('-5m', now), null);
  t.equal(parseTimeParam('999999999d', now), null, 'a duration reaching back before 1970 is invalid, not a crash');
});

t.test('engine seconds and shifts', async (t) => {
  t.equal(toEngineSeconds('2026-01-01T00:00:00.000000001Z'), '1767225600.000000001');
  t.equal(shiftSeconds('2026-01-01T00:00:00.123000000Z', -10), '2025-12-31T23:59:50.123000000Z');
});

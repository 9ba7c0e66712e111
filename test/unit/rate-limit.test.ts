import t from 'tap';
import { TokenBuckets } from '../../src/api/rate-limit.js';

t.test('a burst, then the sustained rate; Retry-After in whole seconds', async (t) => {
  let now = 0;
  const b = new TokenBuckets({ perMinute: 60, burst: 3, now: () => now });
  t.same([b.take('a'), b.take('a'), b.take('a')], [0, 0, 0], 'the burst');
  t.equal(b.take('a'), 1, 'empty: one token per second at 60/min');
  now += 500;
  t.equal(b.take('a'), 1, 'half a token is not a token');
  now += 600;
  t.equal(b.take('a'), 0, 'refilled');
  t.equal(b.take('b'), 0, 'buckets are per key');
  now += 3_600_000;
  t.same([b.take('a'), b.take('a'), b.take('a'), b.take('a')], [0, 0, 0, 1], 'refill stops at the burst');
});

t.test('slow rates give long waits; 0 disables', async (t) => {
  const now = 0;
  const slow = new TokenBuckets({ perMinute: 2, burst: 1, now: () => now });
  t.equal(slow.take('k'), 0);
  t.equal(slow.take('k'), 30);
  const off = new TokenBuckets({ perMinute: 0, burst: 1 });
  t.equal(off.enabled, false);
  for (let i = 0; i < 1000; i++) if (off.take('k') !== 0) t.fail('limited while disabled');
});

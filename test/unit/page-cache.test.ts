import t from 'tap';
import { VersionedBytesCache } from '../../src/api/page-cache.js';

t.test('one build per key and version; a new version starts over', async (t) => {
  const c = new VersionedBytesCache(1024);
  let builds = 0;
  const make = (s: string) => () => {
    builds++;
    return Buffer.from(s);
  };
  t.equal(c.get(1, 'a', make('a1')).toString(), 'a1');
  t.equal(c.get(1, 'a', make('never')).toString(), 'a1', 'same version and key: the cached bytes');
  t.equal(c.get(1, 'b', make('b1')).toString(), 'b1', 'another key is its own entry');
  t.equal(builds, 2);
  t.equal(c.get(2, 'a', make('a2')).toString(), 'a2', 'a new version builds again');
  t.equal(c.size, 1, 'and dropped what the old version had');
});

t.test('bounded by bytes', async (t) => {
  const c = new VersionedBytesCache(100);
  c.get(1, 'a', () => Buffer.alloc(60));
  c.get(1, 'b', () => Buffer.alloc(30));
  t.equal(c.size, 2);
  c.get(1, 'c', () => Buffer.alloc(30));
  t.equal(c.size, 1, 'an entry that does not fit starts the cache over');
  const big = c.get(1, 'd', () => Buffer.alloc(101));
  t.equal(big.length, 101, 'a value larger than the cache is answered');
  t.equal(c.size, 1, 'but not kept');
});

import fc from 'fast-check';
import t from 'tap';
import { allocateSubnet, containsCidr, formatCidr, gatewayOf, overlaps, parseCidr, type Cidr } from '../../src/network/cidr.js';

const c = (s: string) => parseCidr(s)!;

t.test('parse and format', async (t) => {
  t.same(parseCidr('10.213.0.0/16'), { base: (10 * 256 + 213) * 65536, prefix: 16 });
  t.equal(formatCidr(c('10.213.0.16/28')), '10.213.0.16/28');
  for (const bad of ['10.213.0.1/16', '10.213.0.0', '300.0.0.0/8', '10.0.0.0/33', 'a.b.c.d/8', '10.0.0.0/8/1', '']) {
    t.equal(parseCidr(bad), undefined, bad);
  }
  t.equal(gatewayOf(c('10.213.0.16/28')), '10.213.0.17');
});

t.test('overlap and containment', async (t) => {
  t.ok(overlaps(c('10.0.0.0/8'), c('10.213.0.0/16')));
  t.notOk(overlaps(c('10.213.0.0/28'), c('10.213.0.16/28')));
  t.ok(containsCidr(c('10.0.0.0/8'), c('10.213.0.0/16')));
  t.notOk(containsCidr(c('10.213.0.0/16'), c('10.0.0.0/8')));
});

t.test('allocation: first free block, skipping used subnets of any size', async (t) => {
  const pool = c('10.213.0.0/16');
  t.equal(formatCidr(allocateSubnet(pool, 28, [])!), '10.213.0.0/28');
  t.equal(formatCidr(allocateSubnet(pool, 28, [c('10.213.0.0/28')])!), '10.213.0.16/28');
  t.equal(formatCidr(allocateSubnet(pool, 28, [c('10.213.0.0/24')])!), '10.213.1.0/28', 'a larger foreign subnet is skipped whole');
  t.equal(formatCidr(allocateSubnet(pool, 28, [c('172.17.0.0/16')])!), '10.213.0.0/28', 'subnets outside the pool do not matter');
  t.equal(allocateSubnet(c('10.213.0.0/27'), 28, [c('10.213.0.0/28'), c('10.213.0.16/28')]), undefined, 'full pool');
  t.equal(allocateSubnet(c('10.213.0.0/16'), 12, []), undefined, 'block larger than the pool');
});

t.test('property: an allocated block is inside the pool and overlaps nothing used', async () => {
  const cidrArb = fc.tuple(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 8, max: 30 })).map(([ip, p]): Cidr => {
    const mask = (0xffffffff << (32 - p)) >>> 0;
    return { base: (ip & mask) >>> 0, prefix: p };
  });
  fc.assert(
    fc.property(fc.array(cidrArb.filter((x) => x.prefix >= 20), { maxLength: 40 }), fc.integer({ min: 24, max: 30 }), (used, prefix) => {
      const pool = c('10.213.0.0/20');
      const inPool = used.map((u) => ({ base: (pool.base + (u.base % 4096)) >>> 0, prefix: Math.max(u.prefix, 24) })).map((u) => ({ ...u, base: u.base - (u.base % 2 ** (32 - u.prefix)) }));
      const got = allocateSubnet(pool, prefix, inPool);
      if (!got) {
        // Full: every block of the pool clashes with something.
        for (let b = pool.base; b < pool.base + 4096; b += 2 ** (32 - prefix)) if (!inPool.some((u) => overlaps(u, { base: b, prefix }))) return false;
        return true;
      }
      return containsCidr(pool, got) && got.prefix === prefix && !inPool.some((u) => overlaps(u, got));
    }),
    { numRuns: 300, seed: 6 },
  );
});

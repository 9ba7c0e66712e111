/**
 * IPv4 CIDR arithmetic for the pod subnet pool. Pure: addresses are unsigned 32-bit numbers.
 */
export interface Cidr {
  /** Network address (host bits cleared). */
  base: number;
  prefix: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parseIpv4(s: string): number | undefined {
  const m = IPV4.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return parts.reduce((acc, p) => acc * 256 + p, 0);
}

export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

const mask = (prefix: number) => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

/** `a.b.c.d/n`; undefined when malformed. Host bits must be zero (10.213.0.0/16, not 10.213.1.0/16). */
export function parseCidr(s: string): Cidr | undefined {
  const [ip, len, ...rest] = s.split('/');
  if (rest.length || ip === undefined || len === undefined || !/^\d{1,2}$/.test(len)) return undefined;
  const prefix = Number(len);
  const addr = parseIpv4(ip);
  if (addr === undefined || prefix > 32) return undefined;
  if ((addr & ~mask(prefix)) >>> 0 !== 0) return undefined;
  return { base: addr, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.base)}/${c.prefix}`;
}

const size = (c: Cidr) => 2 ** (32 - c.prefix);

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}

/** True when `inner` lies entirely inside `outer`. */
export function containsCidr(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && inner.base >= outer.base && inner.base + size(inner) <= outer.base + size(outer);
}

/**
 * The first block of `/blockPrefix` inside `pool` that overlaps none of `used` (subnets of every
 * network the engine has, ours or not). Undefined when the pool is full. Linear in the pool's
 * block count (4,096 /28s in a /16): cheap next to the engine call that follows.
 */
export function allocateSubnet(pool: Cidr, blockPrefix: number, used: readonly Cidr[]): Cidr | undefined {
  if (blockPrefix < pool.prefix || blockPrefix > 30) return undefined;
  const step = 2 ** (32 - blockPrefix);
  const relevant = used.filter((u) => overlaps(u, pool)).sort((a, b) => a.base - b.base);
  const end = pool.base + size(pool);
  for (let base = pool.base; base < end; base += step) {
    const candidate = { base, prefix: blockPrefix };
    const clash = relevant.find((u) => overlaps(u, candidate));
    if (!clash) return candidate;
    // Skip past the clashing subnet in one step (it may be larger than a block).
    const next = clash.base + size(clash);
    if (next > base + step) base = Math.ceil((next - pool.base) / step) * step + pool.base - step;
  }
  return undefined;
}

/** The gateway pinacled gives a pod network: the first host address of the block. */
export function gatewayOf(c: Cidr): string {
  return formatIpv4(c.base + 1);
}

/**
 * The host firewall policy for pod networks, as iptables rules. Pure: the same input gives the
 * same rule text, so installation is idempotent and verification is a text comparison with
 * what `iptables -S` prints (rules are written in the canonical order iptables prints them).
 *
 * Shape (filter table, both families):
 *   FORWARD
 *     1: -j DOCKER-USER                 dockerd's own jump; it must come first, or a rule another
 *                                       tool inserted above it (ufw, tailscale) decides first
 *   DOCKER-USER (v4; FORWARD for v6 unless dockerd manages ip6tables)
 *     1: -i pcl+ -j PINACLED-FORWARD    traffic a pod sends through the host
 *   INPUT
 *     1: -i pcl+ -j PINACLED-INPUT      traffic a pod sends to the host itself
 * Pod bridges are named `pcl<12 chars of the pod id>` (pod-networks.ts), so one wildcard matches
 * every pod network, whatever its address, in IPv4 and IPv6 alike. Our rules live in our own
 * chains: dockerd never flushes DOCKER-USER or INPUT (it re-creates DOCKER-USER only when the
 * chain is missing and moves its FORWARD jump to the top), and the daemon re-checks anyway.
 *
 * Both chains let through only the reply direction of established connections (`--ctdir
 * REPLY`: answers to connections someone opened to the pod, such as its published ports). A
 * connection the pod itself opened meets the destination rules on every packet, so one opened
 * while the policy was missing (a flush, the moment after a dockerd restart) is cut by the
 * repair, with no conntrack table to clean.
 */

export const POD_BRIDGE_PREFIX = 'pcl';
export const CHAIN_FORWARD = 'PINACLED-FORWARD';
export const CHAIN_INPUT = 'PINACLED-INPUT';
const IFACE = `${POD_BRIDGE_PREFIX}+`;

/** Destinations no pod may open a connection to, with the reason. */
export const BLOCKED_V4: readonly { cidr: string; why: string }[] = [
  { cidr: '10.0.0.0/8', why: 'private (RFC 1918)' },
  { cidr: '172.16.0.0/12', why: 'private (RFC 1918), includes Docker networks' },
  { cidr: '192.168.0.0/16', why: 'private (RFC 1918)' },
  { cidr: '169.254.0.0/16', why: 'link-local, includes cloud metadata 169.254.169.254' },
  // A public address, so no private range covers it: Azure's WireServer (host agent, DNS, VM
  // extensions and their secrets) answers every VM there.
  { cidr: '168.63.129.16/32', why: "Azure's host agent (WireServer), a public address" },
  { cidr: '100.64.0.0/10', why: 'carrier-grade NAT (RFC 6598), used by some clouds and VPNs' },
  { cidr: '0.0.0.0/8', why: '"this network"' },
  { cidr: '127.0.0.0/8', why: 'loopback' },
  { cidr: '192.0.0.0/24', why: 'IETF protocol assignments' },
  { cidr: '198.18.0.0/15', why: 'benchmarking (RFC 2544), used by some internal networks' },
  { cidr: '224.0.0.0/4', why: 'multicast' },
  { cidr: '240.0.0.0/4', why: 'reserved and broadcast' },
];

export const BLOCKED_V6: readonly { cidr: string; why: string }[] = [
  { cidr: '::/128', why: 'unspecified' },
  { cidr: '::1/128', why: 'loopback' },
  { cidr: '::ffff:0.0.0.0/96', why: 'IPv4-mapped (would reach IPv4 private ranges)' },
  { cidr: '64:ff9b::/96', why: 'NAT64 (would reach IPv4 private ranges)' },
  { cidr: '64:ff9b:1::/48', why: 'local-use NAT64' },
  { cidr: '100::/64', why: 'discard-only' },
  { cidr: '2001:db8::/32', why: 'documentation' },
  { cidr: 'fc00::/7', why: 'unique local addresses (private)' },
  { cidr: 'fe80::/10', why: 'link-local' },
  { cidr: 'fec0::/10', why: 'deprecated site-local' },
  { cidr: 'ff00::/8', why: 'multicast' },
];

export interface Allowance {
  /** IPv4 CIDR (a bare address means /32). */
  cidr: string;
  port?: number;
  proto?: 'tcp' | 'udp';
}

export interface FirewallPolicy {
  /** Pod subnet pool: pod -> pod traffic is refused even if the pool lies outside private ranges. */
  podPool: string;
  /** IPv4 name servers of the host: Docker's embedded DNS forwards pods' queries to them from the pod's network. */
  dnsServers: string[];
  /** Operator exceptions (a proxy or registry mirror on a private address). */
  allow: Allowance[];
  /** Extra IPv4 destinations to refuse (the host's LAN when it is not in a private range). */
  extraBlock: string[];
}

export type Family = 'ipv4' | 'ipv6';

export interface FamilyPlan {
  family: Family;
  /** Input of `iptables-restore --noflush`: declares our chains (which flushes them) and fills them, atomically. */
  restore: string;
  /** Expected `iptables -S <chain>` output per chain, without the `-N` line. */
  chains: Record<string, string[]>;
  /** Rules that must be the first rule of their parent chain, each once. */
  jumps: { parent: string; args: string[] }[];
}

const withPrefix = (cidr: string, bits: number) => (cidr.includes('/') ? cidr : `${cidr}/${bits}`);

/** `CIDR[:PORT[/tcp|udp]]`, comma-separated; throws with a message naming the bad item. */
export function parseAllowances(text: string): Allowance[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      const m = /^(\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?)(?::(\d{1,5})(?:\/(tcp|udp))?)?$/.exec(item);
      const port = m?.[2] === undefined ? undefined : Number(m[2]);
      if (!m || (port !== undefined && (port < 1 || port > 65535))) throw new Error(`"${item}" is not CIDR[:PORT[/tcp|udp]]`);
      const a: Allowance = { cidr: m[1]! };
      if (port !== undefined) a.port = port;
      if (m[3]) a.proto = m[3] as 'tcp' | 'udp';
      return a;
    });
}

function allowRules(a: Allowance): string[][] {
  const d = ['-d', withPrefix(a.cidr, 32)];
  if (a.port === undefined) return [[...d, '-j', 'RETURN']];
  const protos = a.proto ? [a.proto] : (['tcp', 'udp'] as const);
  return protos.map((p) => [...d, '-p', p, '-m', p, '--dport', String(a.port), '-j', 'RETURN']);
}

// Written in the order `iptables -S` prints the conntrack match's options.
const REPLIES = ['-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '--ctdir', 'REPLY', '-j', 'RETURN'];

/** Where the jump to PINACLED-FORWARD lives: DOCKER-USER once dockerd made it, else FORWARD. */
export type ForwardParent = 'DOCKER-USER' | 'FORWARD';

function plan(family: Family, forwardParent: ForwardParent, forward: string[][], input: string[][]): FamilyPlan {
  const chains = {
    [CHAIN_FORWARD]: forward.map((r) => `-A ${CHAIN_FORWARD} ${r.join(' ')}`),
    [CHAIN_INPUT]: input.map((r) => `-A ${CHAIN_INPUT} ${r.join(' ')}`),
  };
  const restore = ['*filter', `:${CHAIN_FORWARD} - [0:0]`, `:${CHAIN_INPUT} - [0:0]`, ...chains[CHAIN_FORWARD], ...chains[CHAIN_INPUT], 'COMMIT', ''].join('\n');
  return {
    family,
    restore,
    chains,
    jumps: [
      ...(forwardParent === 'DOCKER-USER' ? [{ parent: 'FORWARD', args: ['-j', 'DOCKER-USER'] }] : []),
      { parent: forwardParent, args: ['-i', IFACE, '-j', CHAIN_FORWARD] },
      { parent: 'INPUT', args: ['-i', IFACE, '-j', CHAIN_INPUT] },
    ],
  };
}

export function ipv4Plan(p: FirewallPolicy, forwardParent: ForwardParent = 'DOCKER-USER'): FamilyPlan {
  const reject = ['-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited'];
  const forward = [
    REPLIES,
    ...p.dnsServers.flatMap((ns) => allowRules({ cidr: ns, port: 53 })),
    ...p.allow.flatMap(allowRules),
    ['-d', p.podPool, ...reject],
    ...[...BLOCKED_V4.map((b) => b.cidr), ...p.extraBlock.map((c) => withPrefix(c, 32))].map((cidr) => ['-d', cidr, ...reject]),
  ];
  // Nothing on the host is a pod's business: pinacled's API, dockerd, sshd, the gateway itself.
  const input = [REPLIES, reject];
  return plan('ipv4', forwardParent, forward, input);
}

/**
 * IPv6. Docker leaves IPv6 disabled inside pod namespaces (pinacled never asks for it), so these
 * rules are defence in depth. `forwardParent` is DOCKER-USER when dockerd manages ip6tables.
 */
export function ipv6Plan(forwardParent: ForwardParent): FamilyPlan {
  const reject = ['-j', 'REJECT', '--reject-with', 'icmp6-adm-prohibited'];
  const forward = [REPLIES, ...BLOCKED_V6.map((b) => ['-d', b.cidr, ...reject])];
  return plan('ipv6', forwardParent, forward, [REPLIES, reject]);
}

/** What is missing or different, comparing `iptables -S` output with a plan. Empty: in place. */
export function driftOf(p: FamilyPlan, listed: { chains: Record<string, string[] | null>; parents: Record<string, string[] | null> }): string[] {
  const drift: string[] = [];
  for (const [chain, want] of Object.entries(p.chains)) {
    const got = listed.chains[chain];
    if (!got) drift.push(`${p.family}: chain ${chain} is missing`);
    else if (got.join('\n') !== want.join('\n')) drift.push(`${p.family}: chain ${chain} differs (${got.length} rules, want ${want.length})`);
  }
  for (const j of p.jumps) {
    const want = `-A ${j.parent} ${j.args.join(' ')}`;
    const rules = listed.parents[j.parent] ?? [];
    if (rules[0] !== want) drift.push(`${p.family}: ${j.parent} does not start with the jump to ${j.args.at(-1)}`);
    else if (rules.filter((r) => r === want).length > 1) drift.push(`${p.family}: ${j.parent} jumps to ${j.args.at(-1)} more than once`);
  }
  return drift;
}

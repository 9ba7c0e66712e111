import pino from 'pino';
import t from 'tap';
import { FakeFirewall } from '../helpers/fakes/fake-firewall.js';
import { HostFirewall } from '../../src/network/firewall.js';
import { BLOCKED_V4, CHAIN_FORWARD, CHAIN_INPUT, driftOf, ipv4Plan, ipv6Plan, parseAllowances, type FirewallPolicy } from '../../src/network/firewall-rules.js';
import { hostDnsServers, nameservers } from '../../src/network/resolv.js';

const policy: FirewallPolicy = { podPool: '10.213.0.0/16', dnsServers: ['10.255.255.53'], allow: [], extraBlock: [] };
const log = pino({ level: 'silent' });

t.test('the IPv4 plan: replies pass, DNS to the host resolvers passes, private ranges and the pool are refused', async (t) => {
  const p = ipv4Plan(policy);
  const fwd = p.chains[CHAIN_FORWARD]!;
  t.equal(fwd[0], `-A ${CHAIN_FORWARD} -m conntrack --ctstate RELATED,ESTABLISHED --ctdir REPLY -j RETURN`, 'replies to connections opened to the pod first; what the pod opens meets every rule');
  t.ok(fwd.includes(`-A ${CHAIN_FORWARD} -d 10.255.255.53/32 -p udp -m udp --dport 53 -j RETURN`));
  t.ok(fwd.includes(`-A ${CHAIN_FORWARD} -d 10.255.255.53/32 -p tcp -m tcp --dport 53 -j RETURN`));
  t.ok(fwd.indexOf(`-A ${CHAIN_FORWARD} -d 10.255.255.53/32 -p udp -m udp --dport 53 -j RETURN`) < fwd.indexOf(`-A ${CHAIN_FORWARD} -d 10.0.0.0/8 -j REJECT --reject-with icmp-admin-prohibited`), 'exceptions before the refusals');
  for (const cidr of ['10.213.0.0/16', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '100.64.0.0/10', '168.63.129.16/32']) {
    t.ok(fwd.includes(`-A ${CHAIN_FORWARD} -d ${cidr} -j REJECT --reject-with icmp-admin-prohibited`), `refuses ${cidr}`);
  }
  t.same(p.chains[CHAIN_INPUT], [`-A ${CHAIN_INPUT} -m conntrack --ctstate RELATED,ESTABLISHED --ctdir REPLY -j RETURN`, `-A ${CHAIN_INPUT} -j REJECT --reject-with icmp-admin-prohibited`], 'nothing on the host answers a pod');
  t.same(p.jumps, [
    { parent: 'FORWARD', args: ['-j', 'DOCKER-USER'] },
    { parent: 'DOCKER-USER', args: ['-i', 'pcl+', '-j', CHAIN_FORWARD] },
    { parent: 'INPUT', args: ['-i', 'pcl+', '-j', CHAIN_INPUT] },
  ]);
  t.match(p.restore, /^\*filter\n:PINACLED-FORWARD - \[0:0\]\n:PINACLED-INPUT - \[0:0\]\n/);
  t.match(p.restore, /\nCOMMIT\n$/);
  t.equal(BLOCKED_V4.length + 3 + 1, fwd.length, 'established + 2 DNS + pool + the blocked ranges');
});

t.test('the IPv6 plan: ULA, link-local, mapped and NAT64 prefixes refused; nothing on the host', async (t) => {
  const p = ipv6Plan('FORWARD');
  const fwd = p.chains[CHAIN_FORWARD]!;
  for (const cidr of ['fc00::/7', 'fe80::/10', '::ffff:0.0.0.0/96', '64:ff9b::/96', '::1/128']) {
    t.ok(fwd.includes(`-A ${CHAIN_FORWARD} -d ${cidr} -j REJECT --reject-with icmp6-adm-prohibited`), cidr);
  }
  t.equal(p.jumps[0]!.parent, 'FORWARD');
  t.same(ipv6Plan('DOCKER-USER').jumps.map((j) => `${j.parent} -> ${j.args.at(-1)}`), ['FORWARD -> DOCKER-USER', 'DOCKER-USER -> PINACLED-FORWARD', 'INPUT -> PINACLED-INPUT']);
});

t.test('operator allowances and extra blocks', async (t) => {
  t.same(parseAllowances(' 10.1.2.3:3128/tcp , 10.9.0.0/16,10.0.0.5:53 '), [{ cidr: '10.1.2.3', port: 3128, proto: 'tcp' }, { cidr: '10.9.0.0/16' }, { cidr: '10.0.0.5', port: 53 }]);
  t.same(parseAllowances(''), []);
  for (const bad of ['10.1.2.3:0', '10.1.2.3:70000', 'example.com', '10.1.2.3:80/icmp', '::1']) t.throws(() => parseAllowances(bad), bad);
  const p = ipv4Plan({ ...policy, allow: parseAllowances('10.1.2.3:3128/tcp,10.9.0.0/16'), extraBlock: ['192.0.2.0/24', '198.51.100.7'] });
  const fwd = p.chains[CHAIN_FORWARD]!;
  t.ok(fwd.includes(`-A ${CHAIN_FORWARD} -d 10.1.2.3/32 -p tcp -m tcp --dport 3128 -j RETURN`));
  t.ok(fwd.includes(`-A ${CHAIN_FORWARD} -d 10.9.0.0/16 -j RETURN`));
  t.ok(fwd.includes(`-A ${CHAIN_FORWARD} -d 192.0.2.0/24 -j REJECT --reject-with icmp-admin-prohibited`));
  t.ok(fwd.includes(`-A ${CHAIN_FORWARD} -d 198.51.100.7/32 -j REJECT --reject-with icmp-admin-prohibited`));
});

t.test('drift: missing chain, different chain, jump not first', async (t) => {
  const p = ipv4Plan(policy);
  const good = { chains: { ...p.chains }, parents: { FORWARD: ['-A FORWARD -j DOCKER-USER', '-A FORWARD -j DOCKER-FORWARD'], 'DOCKER-USER': ['-A DOCKER-USER -i pcl+ -j PINACLED-FORWARD', '-A DOCKER-USER -j RETURN'], INPUT: ['-A INPUT -i pcl+ -j PINACLED-INPUT'] } };
  t.same(driftOf(p, good), []);
  t.match(driftOf(p, { ...good, chains: { ...p.chains, [CHAIN_INPUT]: null } }), [/PINACLED-INPUT is missing/]);
  t.match(driftOf(p, { ...good, chains: { ...p.chains, [CHAIN_FORWARD]: p.chains[CHAIN_FORWARD]!.slice(1) } }), [/PINACLED-FORWARD differs/]);
  t.match(driftOf(p, { ...good, parents: { ...good.parents, 'DOCKER-USER': ['-A DOCKER-USER -j RETURN'] } }), [/DOCKER-USER does not start with the jump/]);
  t.match(driftOf(p, { ...good, parents: { ...good.parents, INPUT: ['-A INPUT -i pcl+ -j PINACLED-INPUT', '-A INPUT -i pcl+ -j PINACLED-INPUT'] } }), [/INPUT jumps to PINACLED-INPUT more than once/]);
  // ufw, tailscale and others insert their own jumps at the top of FORWARD; whatever they
  // ACCEPT there never reaches DOCKER-USER, so our first rule there proves nothing.
  t.match(driftOf(p, { ...good, parents: { ...good.parents, FORWARD: ['-A FORWARD -j ts-forward', '-A FORWARD -j DOCKER-USER'] } }), [/ipv4: FORWARD does not start with the jump to DOCKER-USER/]);
  t.match(driftOf(p, { ...good, parents: { ...good.parents, FORWARD: ['-A FORWARD -i pcl+ -j ACCEPT', '-A FORWARD -j DOCKER-USER'] } }), [/FORWARD does not start with the jump to DOCKER-USER/]);
  t.same(ipv4Plan(policy, 'FORWARD').jumps.map((j) => j.parent), ['FORWARD', 'INPUT'], 'without DOCKER-USER our jump itself must be first in FORWARD');
});

t.test('install mode: installs once, is idempotent, repairs drift (a flush, a moved jump)', async (t) => {
  const fw = new FakeFirewall();
  const guard = new HostFirewall({ mode: 'install', backend: fw, policy: () => policy, intervalMs: 60_000, log });
  t.equal(guard.status.ok, false, 'not ok before the first check');
  t.equal((await guard.check()).ok, true);
  t.equal(fw.tables.ipv4.get('DOCKER-USER')![0], '-A DOCKER-USER -i pcl+ -j PINACLED-FORWARD');
  t.equal(fw.tables.ipv4.get('DOCKER-USER')!.at(-1), '-A DOCKER-USER -j RETURN', "dockerd's RETURN stays last");
  t.equal(fw.tables.ipv4.get('INPUT')![0], '-A INPUT -i pcl+ -j PINACLED-INPUT');
  t.equal(fw.tables.ipv6.get('FORWARD')![0], '-A FORWARD -i pcl+ -j PINACLED-FORWARD', 'no DOCKER-USER in ip6tables: straight from FORWARD');
  t.equal(guard.status.repairs, 1);
  const changes = fw.changes;
  t.equal((await guard.check()).ok, true);
  t.equal(fw.changes, changes, 'a second check changes nothing');

  fw.flush('ipv4', CHAIN_FORWARD);
  t.equal((await guard.check()).ok, true, 'flushed chain refilled');
  t.equal(fw.tables.ipv4.get(CHAIN_FORWARD)!.length, ipv4Plan(policy).chains[CHAIN_FORWARD]!.length);

  fw.tables.ipv4.get('INPUT')!.unshift('-A INPUT -i lo -j ACCEPT');
  t.equal((await guard.check()).ok, true, 'a rule inserted above our jump: the jump goes back to the top');
  t.same(fw.tables.ipv4.get('INPUT')!.filter((r) => r.includes('PINACLED')).length, 1, 'no duplicate jump');

  fw.tables.ipv4.get('DOCKER-USER')!.push('-A DOCKER-USER -i pcl+ -j PINACLED-FORWARD');
  await guard.check();
  t.equal(fw.tables.ipv4.get('DOCKER-USER')!.filter((r) => r.includes('PINACLED')).length, 1, 'copies a concurrent installer left are removed');
  t.equal(guard.status.repairs, 4, 'initial install, refill, jump moved back, duplicate removed');

  fw.tables.ipv4.get('FORWARD')!.unshift('-A FORWARD -j ts-forward', '-A FORWARD -i pcl+ -j ACCEPT');
  t.equal((await guard.check()).ok, true, 'rules inserted above the jump to DOCKER-USER: repaired');
  t.same(fw.tables.ipv4.get('FORWARD'), ['-A FORWARD -j DOCKER-USER', '-A FORWARD -j ts-forward', '-A FORWARD -i pcl+ -j ACCEPT'], "dockerd's jump is first again, once; the other tool's rules stay, below it");
  t.equal(guard.status.repairs, 5);
});

t.test('check mode: a rule above the jump to DOCKER-USER makes the firewall not ok', async (t) => {
  const fw = new FakeFirewall();
  await new HostFirewall({ mode: 'install', backend: fw, policy: () => policy, intervalMs: 60_000, log }).check();
  const guard = new HostFirewall({ mode: 'check', backend: fw, policy: () => policy, intervalMs: 60_000, log });
  t.equal((await guard.check()).ok, true, 'in place');
  fw.tables.ipv4.get('FORWARD')!.unshift('-A FORWARD -j ufw-before-forward');
  const s = await guard.check();
  t.equal(s.ok, false, '/readyz would say so');
  t.match(s.detail, /FORWARD does not start with the jump to DOCKER-USER/);
});

t.test('without DOCKER-USER (dockerd not up yet) the jump goes into FORWARD, and moves once it exists', async (t) => {
  const fw = new FakeFirewall();
  fw.tables.ipv4.delete('DOCKER-USER');
  fw.tables.ipv4.set('FORWARD', []);
  const guard = new HostFirewall({ mode: 'install', backend: fw, policy: () => policy, intervalMs: 60_000, log });
  t.equal((await guard.check()).ok, true);
  t.equal(fw.tables.ipv4.get('FORWARD')![0], '-A FORWARD -i pcl+ -j PINACLED-FORWARD');
  fw.tables.ipv4.set('DOCKER-USER', ['-A DOCKER-USER -j RETURN']);
  fw.tables.ipv4.get('FORWARD')!.unshift('-A FORWARD -j DOCKER-USER');
  t.equal((await guard.check()).ok, true);
  t.equal(fw.tables.ipv4.get('DOCKER-USER')![0], '-A DOCKER-USER -i pcl+ -j PINACLED-FORWARD');
  t.same(fw.tables.ipv4.get('FORWARD'), ['-A FORWARD -j DOCKER-USER'], 'the old jump is gone');
});

t.test('check mode reports drift and changes nothing; failures read as not ok', async (t) => {
  const fw = new FakeFirewall();
  const guard = new HostFirewall({ mode: 'check', backend: fw, policy: () => policy, intervalMs: 60_000, log });
  const s = await guard.check();
  t.equal(s.ok, false);
  t.match(s.detail, /not in place: ipv4: chain PINACLED-FORWARD is missing/);
  t.equal(fw.changes, 0);
  const broken = new FakeFirewall();
  broken.fail = new Error('iptables: Permission denied (you must be root)');
  const g2 = new HostFirewall({ mode: 'install', backend: broken, policy: () => policy, intervalMs: 60_000, log });
  const s2 = await g2.check();
  t.equal(s2.ok, false);
  t.notMatch(s2.detail, /Permission denied/, 'command output stays in the log, not in /readyz');
});

t.test('ipv6 unavailable is noted, not fatal; off mode is ok and never touches the host', async (t) => {
  const fw = new FakeFirewall();
  fw.unavailable.add('ipv6');
  const guard = new HostFirewall({ mode: 'install', backend: fw, policy: () => policy, intervalMs: 60_000, log });
  const s = await guard.check();
  t.equal(s.ok, true);
  t.match(s.detail, /ipv6 not filtered/);
  const off = new FakeFirewall();
  const g = new HostFirewall({ mode: 'off', backend: off, policy: () => policy, intervalMs: 60_000, log });
  await g.start();
  g.kick();
  t.equal(g.status.ok, true);
  t.match(g.status.detail, /^off/);
  t.equal(off.changes, 0);
});

t.test('resolv.conf: IPv4 name servers, loopback stubs replaced by the real upstreams', async (t) => {
  t.same(nameservers('# c\nnameserver 10.255.255.53\nnameserver ::1\nnameserver 1.1.1.1\nsearch x\n'), ['10.255.255.53', '1.1.1.1']);
  const files: Record<string, string> = { '/etc/resolv.conf': 'nameserver 127.0.0.53\n', '/run/systemd/resolve/resolv.conf': 'nameserver 10.0.0.2\n' };
  t.same(hostDnsServers((p) => files[p] ?? ''), ['10.0.0.2']);
  t.same(hostDnsServers((p) => (p === '/etc/resolv.conf' ? 'nameserver 192.168.1.1\n' : '')), ['192.168.1.1']);
  t.same(hostDnsServers(() => { throw new Error('ENOENT'); }), []);
});

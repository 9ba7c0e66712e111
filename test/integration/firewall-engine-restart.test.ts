// Issue 18 item 12: the pod firewall survives a restart of the engine the daemon uses. A host's
// dockerd programs iptables when it starts (DOCKER-USER, its jump at the top of FORWARD), so
// the restart is watched for real: a private dockerd with iptables on, and a daemon in install
// mode, both inside a network namespace of the test's own, whose iptables are theirs alone (the
// shared engine's rules are never touched). The test reaches the daemon, and the pod reaches
// a listener of the test, over a veth pair into that namespace.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import t from 'tap';
import { eventually } from '../helpers/app.js';
import { realDaemon, TEST_IMAGE } from '../helpers/daemon.js';
import { secondEngine } from '../helpers/second-engine.js';

const run = promisify(execFile);
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

t.test('the pod firewall holds across a restart of the engine the daemon uses', async (t) => {
  const tag = randomBytes(2).toString('hex');
  const ns = `pnfw-${tag}`;
  const [vh, vn] = [`pfwh${tag}`, `pfwn${tag}`];
  // 10.219.x.0/30: host side .1, namespace side .2 (a private address: pods must not reach it).
  const x = parseInt(tag.slice(0, 2), 16);
  const [hostIp, nsIp] = [`10.219.${x}.1`, `10.219.${x}.2`];
  sh('ip', ['netns', 'add', ns]);
  t.teardown(() => {
    for (const args of [['link', 'del', vh], ['netns', 'del', ns]]) {
      try {
        sh('ip', args);
      } catch {
        // already gone
      }
    }
  });
  sh('ip', ['link', 'add', vh, 'type', 'veth', 'peer', 'name', vn]);
  sh('ip', ['link', 'set', vn, 'netns', ns]);
  sh('ip', ['addr', 'add', `${hostIp}/30`, 'dev', vh]);
  sh('ip', ['link', 'set', vh, 'up']);
  sh('ip', ['-n', ns, 'addr', 'add', `${nsIp}/30`, 'dev', vn]);
  sh('ip', ['-n', ns, 'link', 'set', vn, 'up']);
  sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', hostIp]);
  const nsIptables = (...args: string[]) => sh('ip', ['netns', 'exec', ns, 'iptables', '-w', '5', ...args]);

  const engine = await secondEngine(t, { netns: ns });
  t.match(nsIptables('-S', 'FORWARD', '1'), /-A FORWARD -j DOCKER-USER/, "the private engine programs its namespace's iptables");
  const d = await realDaemon(t, {
    DOCKER_HOST: engine.host,
    PINACLED_POD_SUBNET_POOL: engine.podSubnetPool,
    PINACLED_FIREWALL: 'install',
    PINACLED_FIREWALL_CHECK_INTERVAL_S: '2',
    PINACLED_RECONCILE_INTERVAL_S: '5',
  }, { netns: ns, host: nsIp });
  const ready = await d.request('GET', '/readyz');
  t.match(ready.body.checks.firewall, /^ok/, `readyz: ${ready.body.checks.firewall}`);

  // A listener of the test's on the host side of the veth: the namespace reaches it, a pod must not.
  let accepted = 0;
  const server = createServer((s) => {
    accepted++;
    s.end('fw-listener\n');
  });
  await new Promise<void>((r) => server.listen(0, hostIp, r));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  // Async: the listener runs in this process, so a blocking call would stall its answer.
  const fromNs = async () => (await run('nsenter', [`--net=/run/netns/${ns}`, 'sh', '-c', `echo | busybox nc -w 3 ${hostIp} ${port}; true`], { encoding: 'utf8', timeout: 20_000 })).stdout;
  const probe = async (container: string) => {
    const { stdout } = await run('docker', ['-H', engine.host, 'exec', container, 'sh', '-c', `echo | nc -w 3 ${hostIp} ${port} 2>&1; true`], { encoding: 'utf8', timeout: 20_000 });
    return stdout;
  };
  const pod = (await d.request('POST', '/v1/pods', { name: `fw-${tag}`, template: 'custom', image: TEST_IMAGE, command: ['sleep', '3600'], resources: { memoryMb: 64, cpuCores: 0.5 } })).body;
  t.equal(pod.state, 'running', 'a pod runs on the private engine');
  t.match(await fromNs(), /fw-listener/, 'the namespace itself reaches the listener (positive control)');
  t.notMatch(await probe(pod.containerId), /fw-listener/, 'the pod does not (10.0.0.0/8 is refused)');

  const rules = () => ({
    forward: nsIptables('-S', 'FORWARD').trim().split('\n').filter((l) => l.startsWith('-A')),
    dockerUser: nsIptables('-S', 'DOCKER-USER').trim().split('\n').filter((l) => l.startsWith('-A')),
    podChain: nsIptables('-S', 'PINACLED-FORWARD').trim().split('\n').filter((l) => l.startsWith('-A')),
  });
  const before = rules();
  t.equal(before.dockerUser[0], '-A DOCKER-USER -i pcl+ -j PINACLED-FORWARD', 'our jump leads DOCKER-USER');

  const repairsBefore = d.output().split('\n').filter((l) => l.includes('pod firewall policy missing or changed')).length;
  await engine.stop();
  await engine.start();
  const restartedAt = Date.now();
  // dockerd re-programs FORWARD and DOCKER-USER as it starts; the daemon checks again when the
  // engine is back (and every 2 s). What counts is the state the two leave: wait for it.
  const inPlace = (r: ReturnType<typeof rules>) =>
    r.forward[0] === '-A FORWARD -j DOCKER-USER' && r.dockerUser[0] === '-A DOCKER-USER -i pcl+ -j PINACLED-FORWARD' && r.podChain.join() === before.podChain.join();
  const after = await eventually(async () => {
    const r = rules();
    const ready = await d.request('GET', '/readyz');
    return inPlace(r) && ready.status === 200 && /^ok/.test(ready.body.checks.firewall) ? r : undefined;
  }, 60_000, 200);
  const repairs = d.output().split('\n').filter((l) => l.includes('pod firewall policy missing or changed')).length - repairsBefore;
  t.comment(`the firewall is in place ${Date.now() - restartedAt} ms after the engine restart (${repairs} repairs by the daemon: ${repairs ? 'dockerd changed what it found' : 'dockerd kept our rules'})`);
  t.equal(after.forward[0], '-A FORWARD -j DOCKER-USER', "dockerd's jump leads FORWARD");
  t.equal(after.dockerUser[0], '-A DOCKER-USER -i pcl+ -j PINACLED-FORWARD', 'our jump leads DOCKER-USER');
  t.equal(after.dockerUser.filter((r) => r.includes('PINACLED')).length, 1, 'exactly once');
  t.same(after.podChain, before.podChain, 'the pod chain is whole');

  // The pod stopped with the engine (no live-restore); started again, it is still held.
  await eventually(async () => (await d.request('GET', `/v1/pods/${pod.id}`)).body.state === 'stopped', 60_000, 250);
  const started = await d.request('POST', `/v1/pods/${pod.id}/start`);
  t.equal(started.status, 200, `start after the restart: ${started.status}`);
  t.notMatch(await probe(started.body.containerId), /fw-listener/, 'after the restart the pod still cannot reach the listener');
  t.match(await fromNs(), /fw-listener/, 'while the namespace still can');
  t.ok(accepted >= 2, `the listener saw only the positive controls (${accepted})`);
});

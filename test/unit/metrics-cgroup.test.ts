import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { detectCgroupVersion, parseKeyValues, parseLimit, readCgroup, resolveCgroupPaths } from '../../src/metrics/cgroup.js';
import { parseNetDev } from '../../src/metrics/netns.js';

const ID = 'a'.repeat(64);

function tree(t: Test, files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'pinacled-cg-'));
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), content);
  }
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

// Copied from this host (cgroup v1, cgroupfs driver, a runsc container with -m 256m --cpus 0.5).
const V1 = {
  [`memory/docker/${ID}/memory.usage_in_bytes`]: '13897728\n',
  [`memory/docker/${ID}/memory.limit_in_bytes`]: '268435456\n',
  [`memory/docker/${ID}/memory.stat`]: 'cache 1265664\nrss 10567680\ninactive_file 737280\ntotal_cache 1265664\ntotal_inactive_file 737280\ntotal_active_file 40960\n',
  [`memory/docker/${ID}/memory.oom_control`]: 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n',
  [`cpu/docker/${ID}/cpu.stat`]: 'nr_periods 7\nnr_throttled 3\nthrottled_time 1500000000\nnr_bursts 0\nburst_time 0\n',
  [`cpu/docker/${ID}/cpu.cfs_quota_us`]: '50000\n',
  [`cpu/docker/${ID}/cpu.cfs_period_us`]: '100000\n',
  [`cpuacct/docker/${ID}/cpuacct.usage`]: '64084274\n',
  [`pids/docker/${ID}/pids.current`]: '44\n',
  [`pids/docker/${ID}/pids.max`]: '500\n',
};
const PROC_V1 = `9:name=systemd:/docker/${ID}\n8:pids:/docker/${ID}\n4:memory:/docker/${ID}\n2:cpuacct:/docker/${ID}\n1:cpu:/docker/${ID}\n0::/\n`;

t.test('cgroup v1 (this host: separate cpu and cpuacct mounts)', async (t) => {
  const root = tree(t, V1);
  t.equal(detectCgroupVersion(root), 1);
  const paths = resolveCgroupPaths(PROC_V1, ID, 1, root);
  t.ok(paths);
  t.same(readCgroup(paths!), {
    cpuUsageNs: 64084274,
    cpuThrottledNs: 1500000000,
    cpuLimitCores: 0.5,
    memoryUsageBytes: 13897728,
    memoryWorkingSetBytes: 13897728 - 737280,
    memoryLimitBytes: 268435456,
    pids: 44,
    pidsLimit: 500,
    oomKills: 2,
  });
});

t.test('cgroup v1 with a joint cpu,cpuacct mount, no limits', async (t) => {
  const files: Record<string, string> = {};
  for (const [k, v] of Object.entries(V1)) files[k.replace(/^(cpu|cpuacct)\//, 'cpu,cpuacct/')] = v;
  files[`memory/docker/${ID}/memory.limit_in_bytes`] = '9223372036854771712\n';
  files[`pids/docker/${ID}/pids.max`] = 'max\n';
  files[`cpu,cpuacct/docker/${ID}/cpu.cfs_quota_us`] = '-1\n';
  const root = tree(t, files);
  const proc = PROC_V1.replace(/2:cpuacct:.*\n1:cpu:.*\n/, `2:cpu,cpuacct:/docker/${ID}\n`);
  const r = readCgroup(resolveCgroupPaths(proc, ID, 1, root)!);
  t.equal(r.cpuUsageNs, 64084274);
  t.equal(r.cpuLimitCores, null);
  t.equal(r.memoryLimitBytes, null, "v1's page-rounded LONG_MAX is no limit");
  t.equal(r.pidsLimit, null);
});

t.test('cgroup v2 (systemd driver)', async (t) => {
  const dir = `system.slice/docker-${ID}.scope`;
  const root = tree(t, {
    'cgroup.controllers': 'cpu memory pids\n',
    [`${dir}/cpu.stat`]: 'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 10\nnr_throttled 4\nthrottled_usec 300000\n',
    [`${dir}/cpu.max`]: '150000 100000\n',
    [`${dir}/memory.current`]: '209715200\n',
    [`${dir}/memory.stat`]: 'anon 150000000\nfile 50000000\ninactive_file 9715200\nactive_file 100\n',
    [`${dir}/memory.max`]: '536870912\n',
    [`${dir}/memory.events`]: 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n',
    [`${dir}/pids.current`]: '12\n',
    [`${dir}/pids.max`]: 'max\n',
  });
  t.equal(detectCgroupVersion(root), 2);
  const paths = resolveCgroupPaths(`0::/${dir}\n`, ID, 2, root);
  t.same(readCgroup(paths!), {
    cpuUsageNs: 2.5e9,
    cpuThrottledNs: 3e8,
    cpuLimitCores: 1.5,
    memoryUsageBytes: 209715200,
    memoryWorkingSetBytes: 200000000,
    memoryLimitBytes: 536870912,
    pids: 12,
    pidsLimit: null,
    oomKills: 1,
  });
});

t.test('a pid whose cgroup does not name the container is refused', async (t) => {
  const root = tree(t, V1);
  t.equal(resolveCgroupPaths(PROC_V1.replaceAll(ID, 'b'.repeat(64)), ID, 1, root), undefined, 'someone else\'s cgroup');
  t.equal(resolveCgroupPaths('0::/user.slice\n', ID, 2, root), undefined);
  t.equal(resolveCgroupPaths('', ID, 1, root), undefined);
});

t.test('a vanished cgroup throws ENOENT (the run ended)', async (t) => {
  const root = tree(t, V1);
  const paths = resolveCgroupPaths(PROC_V1, ID, 1, root)!;
  rmSync(join(root, 'memory'), { recursive: true });
  t.throws(() => readCgroup(paths), { code: 'ENOENT' });
});

t.test('parsers', async (t) => {
  t.same([...parseKeyValues('a 1\nb  2\n\nc x\n')], [['a', 1], ['b', 2]]);
  t.equal(parseLimit('max\n'), null);
  t.equal(parseLimit('-1'), null);
  t.equal(parseLimit('268435456\n'), 268435456);
  t.equal(parseLimit('9223372036854771712'), null);
});

t.test('/proc/<pid>/net/dev: sums every interface but loopback', async (t) => {
  // Copied from a runsc pod here after a 2 MB download from its httpd (plus a second NIC).
  const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     999       9    0    0    0     0          0         0      999       9    0    0    0     0       0          0
  eth0:    3618      52    0    0    0     0          0         0  2051081      44    0    0    0     0       0          0
  eth1:     100       1    0    0    0     0          0         0       10       1    0    0    0     0       0          0
`;
  t.same(parseNetDev(text), { rxBytes: 3718, txBytes: 2051091 });
  t.same(parseNetDev(''), { rxBytes: 0, txBytes: 0 });
});

import t from 'tap';
import { LABEL } from '../../src/pods/labels.js';
import { buildContainerSpec, HOST_PIDS_PER_PROCESS, hostPidsLimit, isGvisor, NOFILE_LIMIT, POD_CAPABILITIES, SANDBOX_BASE_PIDS, WORKSPACE_PATH } from '../../src/pods/spec.js';
import { podFixture } from '../helpers/pod.js';

const pod = podFixture;
const opts = { logMaxSize: '10m', logMaxFile: 3 };

t.test('runtime, name, image, command, hostname come from the pod', async (t) => {
  const s = buildContainerSpec(pod(), opts);
  t.equal(s.runtime, 'runsc');
  t.equal(s.name, 'pinacle-pod-p0123456789abcdef');
  t.equal(s.image, 'pinacled/testbox:1');
  t.same(s.command, ['sleep', '3600']);
  t.equal(s.hostname, 'web');
  t.equal(buildContainerSpec(pod({ runtime: 'runc', sandboxed: false }), opts).runtime, 'runc');
  t.equal(buildContainerSpec(pod({ command: null }), opts).command, null, 'no command: the image default');
});

t.test('limits: cpu, memory with swap off, nofile, pids mapped, nproc inside gVisor', async (t) => {
  const s = buildContainerSpec(pod(), opts);
  t.equal(s.limits.nanoCpus, 1_500_000_000);
  t.equal(s.limits.memoryBytes, 256 * 1024 * 1024);
  t.equal(s.limits.memorySwapBytes, s.limits.memoryBytes, 'swap = memory: no swap on top');
  t.equal(s.limits.nofile, NOFILE_LIMIT);
  t.equal(s.limits.pidsLimit, SANDBOX_BASE_PIDS + 100 * HOST_PIDS_PER_PROCESS, 'host cap under runsc (HOST-NOTES: ~9 host pids per guest process)');
  t.equal(s.limits.nproc, 100, 'the user-visible process limit is RLIMIT_NPROC inside the sandbox');
  t.ok(s.limits.pidsLimit > s.limits.nproc!, 'the host cap is above the in-pod limit (a backstop)');
  const runc = buildContainerSpec(pod({ runtime: 'runc', sandboxed: false }), opts);
  t.equal(runc.limits.pidsLimit, 100, '1:1 under runc');
  t.equal(runc.limits.nproc, undefined, 'no RLIMIT_NPROC under runc (root is exempt; it counts host-wide per uid)');
  t.equal(hostPidsLimit('runsc', 8), SANDBOX_BASE_PIDS + 80);
  for (const r of ['runsc', 'runc']) t.ok(hostPidsLimit(r, 8) > 0, `${r}: the pids limit is always finite and set`);
  t.equal(hostPidsLimit('runsc', 4096, 8192), 8192, "never above the host's ceiling (a quarter of pid_max 32768)");
  t.equal(hostPidsLimit('runsc', 128, 8192), SANDBOX_BASE_PIDS + 1280, 'below the ceiling: the mapping');
  t.equal(hostPidsLimit('runc', 4096, 1024), 1024);
  // Every gVisor registration of the host setup gets the sandbox mapping and the in-pod limit.
  for (const r of ['runsc-systrap', 'runsc-ptrace', 'runsc-hostinet', 'runsc-legacy']) {
    t.ok(isGvisor(r), `${r} is gVisor`);
    const g = buildContainerSpec(pod({ runtime: r }), opts);
    t.equal(g.limits.pidsLimit, SANDBOX_BASE_PIDS + 100 * HOST_PIDS_PER_PROCESS, `${r}: host cap`);
    t.equal(g.limits.nproc, 100, `${r}: in-pod limit`);
  }
  for (const r of ['runc', 'runscx', 'kata']) t.notOk(isGvisor(r), `${r} is not gVisor`);
});

t.test('labels: ownership, pod identity, user labels under a prefix', async (t) => {
  const s = buildContainerSpec(pod(), opts);
  t.same(s.labels, {
    [LABEL.MANAGED]: 'true',
    [LABEL.POD_ID]: 'p0123456789abcdef',
    [LABEL.POD_NAME]: 'web',
    [LABEL.TEMPLATE]: 'custom',
    [`${LABEL.USER_PREFIX}team`]: 'a',
    [`${LABEL.USER_PREFIX}x.y/z`]: 'v',
  });
  const evil = buildContainerSpec(pod({ labels: { 'dev.pinacle.managed': 'false' } }), opts);
  t.equal(evil.labels[LABEL.MANAGED], 'true', 'a user label cannot overwrite an ownership label');
});

t.test('ports are published on the address the pod row holds, never on all interfaces', async (t) => {
  const s = buildContainerSpec(pod(), opts);
  t.same(s.ports, [{ containerPort: 8080, hostPort: 30001, hostIp: '127.0.0.1' }]);
  t.same(buildContainerSpec(pod({ ports: [] }), opts).ports, []);
});

t.test('env: the user values plus the pod identity; PINACLE_* cannot be overridden', async (t) => {
  const s = buildContainerSpec(pod({ env: { API_KEY: 'sk', PINACLE_POD_ID: 'spoof' } }), opts);
  t.same(s.env, { API_KEY: 'sk', PINACLE_POD_ID: 'p0123456789abcdef', PINACLE_POD_NAME: 'web' });
});

t.test('hardening: caps dropped to a short list, no-new-privileges, only the workspace volume', async (t) => {
  const s = buildContainerSpec(pod(), opts);
  t.same(s.security.capDrop, ['ALL']);
  t.same(s.security.capAdd, [...POD_CAPABILITIES]);
  t.same([...POD_CAPABILITIES].sort(), ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'NET_BIND_SERVICE']);
  t.notOk(s.security.capAdd.some((c) => c === 'SETUID' || c === 'SETGID'), 'no uid changes: the per-user process limit holds');
  for (const dangerous of ['NET_RAW', 'SYS_ADMIN', 'SYS_PTRACE', 'NET_ADMIN', 'SYS_MODULE', 'MKNOD', 'SYS_CHROOT', 'AUDIT_WRITE', 'SETFCAP', 'DAC_READ_SEARCH', 'SYS_RAWIO', 'SYS_TIME', 'BPF']) {
    t.notOk(s.security.capAdd.includes(dangerous), `${dangerous} is not added`);
  }
  t.equal(s.security.noNewPrivileges, true);
  t.same(s.volumes, [{ volume: 'pinacle-ws-p0123456789abcdef', target: WORKSPACE_PATH }], 'a named volume pinacled manages; no host path');
  t.same(s.log, { maxSize: '10m', maxFile: 3 });
  t.ok(s.shmSizeBytes > 0 && s.shmSizeBytes <= 64 * 1024 * 1024);
});

t.test('network: the per-pod network when given, else the default bridge', async (t) => {
  t.equal(buildContainerSpec(pod(), { ...opts, network: 'pinacle-net-p0123456789abcdef' }).network, 'pinacle-net-p0123456789abcdef');
  t.equal(buildContainerSpec(pod(), opts).network, null);
});

t.test('pure: the same pod gives the same spec, and the pod is not changed', async (t) => {
  const p = pod();
  const before = structuredClone(p);
  t.same(buildContainerSpec(p, opts), buildContainerSpec(p, opts));
  t.same(p, before);
});

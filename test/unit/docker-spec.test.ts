import fc from 'fast-check';
import t from 'tap';
import { buildContainerSpec } from '../../src/pods/spec.js';
import type { Pod } from '../../src/pods/types.js';
import { toDockerCreateBody, toDockerNetworkBody } from '../../src/runtime/docker-spec.js';
import type { ContainerSpec } from '../../src/runtime/container-runtime.js';

const spec = (over: Partial<ContainerSpec> = {}): ContainerSpec => ({
  name: 'pinacle-pod-p1',
  image: 'pinacled/testbox:1',
  command: ['sh', '-c', 'sleep 1'],
  env: { A: '1', B: 'x=y' },
  labels: { 'dev.pinacle.managed': 'true' },
  hostname: 'web',
  runtime: 'runsc',
  user: null,
  workingDir: null,
  limits: { nanoCpus: 1e9, memoryBytes: 256 << 20, memorySwapBytes: 256 << 20, pidsLimit: 1064, nofile: 65536, nproc: 100 },
  ports: [
    { containerPort: 8080, hostPort: 30001, hostIp: '127.0.0.1' },
    { containerPort: 3000, hostPort: 30002, hostIp: '127.0.0.1' },
  ],
  volumes: [{ volume: 'pinacle-ws-p1', target: '/workspace' }],
  security: { capDrop: ['ALL'], capAdd: ['CHOWN', 'KILL'], noNewPrivileges: true, readonlyRootfs: false },
  network: 'pinacle-net-p1',
  log: { maxSize: '10m', maxFile: 3 },
  shmSizeBytes: 64 << 20,
  ...over,
});

t.test('every field of the Engine API body', async (t) => {
  const b = toDockerCreateBody(spec());
  t.equal(b.name, 'pinacle-pod-p1');
  t.equal(b.Image, 'pinacled/testbox:1');
  t.same(b.Cmd, ['sh', '-c', 'sleep 1']);
  t.same(b.Env, ['A=1', 'B=x=y']);
  t.same(b.Labels, { 'dev.pinacle.managed': 'true' });
  t.equal(b.Hostname, 'web');
  t.same(b.ExposedPorts, { '8080/tcp': {}, '3000/tcp': {} });
  const h = b.HostConfig;
  t.equal(h.Runtime, 'runsc');
  t.equal(h.NanoCpus, 1e9);
  t.equal(h.Memory, 256 << 20);
  t.equal(h.MemorySwap, 256 << 20);
  t.equal(h.PidsLimit, 1064);
  t.same(h.Ulimits, [
    { Name: 'nofile', Soft: 65536, Hard: 65536 },
    { Name: 'nproc', Soft: 100, Hard: 100 },
  ]);
  t.same(h.PortBindings, { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '30001' }], '3000/tcp': [{ HostIp: '127.0.0.1', HostPort: '30002' }] });
  t.same(h.Mounts, [{ Type: 'volume', Source: 'pinacle-ws-p1', Target: '/workspace', ReadOnly: false }]);
  t.same(h.CapDrop, ['ALL']);
  t.same(h.CapAdd, ['CHOWN', 'KILL']);
  t.same(h.SecurityOpt, ['no-new-privileges:true']);
  t.equal(h.Privileged, false);
  t.equal(h.ReadonlyRootfs, false);
  t.equal(h.NetworkMode, 'pinacle-net-p1');
  t.same(h.LogConfig, { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } });
  t.same(h.RestartPolicy, { Name: 'no' });
  t.equal(h.ShmSize, 64 << 20);
});

t.test('optional fields are left out, not sent empty', async (t) => {
  const b = toDockerCreateBody(spec({ command: null, limits: { ...spec().limits, nproc: undefined }, network: null }));
  t.notOk('Cmd' in b, 'no Cmd: the image default');
  t.notOk('User' in b);
  t.notOk('WorkingDir' in b);
  t.same(b.HostConfig.Ulimits, [{ Name: 'nofile', Soft: 65536, Hard: 65536 }]);
  t.equal(b.HostConfig.NetworkMode, 'bridge');
  const u = toDockerCreateBody(spec({ user: 'dev', workingDir: '/workspace' }));
  t.equal(u.User, 'dev');
  t.equal(u.WorkingDir, '/workspace');
});

/** HostConfig keys that would widen what a container can do: none may ever appear. */
const FORBIDDEN_HOST_CONFIG = ['Binds', 'Devices', 'DeviceRequests', 'DeviceCgroupRules', 'PidMode', 'IpcMode', 'UTSMode', 'UsernsMode', 'CgroupnsMode', 'Cgroup', 'CgroupParent', 'VolumesFrom', 'Links', 'Sysctls', 'ExtraHosts', 'OomKillDisable', 'PublishAllPorts', 'Tmpfs', 'SecurityOpt:seccomp', 'MaskedPaths', 'ReadonlyPaths'];

const podArb: fc.Arbitrary<Pod> = fc.record({
  id: fc.constant('p0123456789abcdef'),
  name: fc.stringMatching(/^[a-z0-9]{1,20}$/),
  template: fc.constantFrom('base', 'nextjs', 'mastra', 'custom') as fc.Arbitrary<Pod['template']>,
  image: fc.constant('pinacled/testbox:1'),
  command: fc.option(fc.array(fc.string(), { minLength: 1, maxLength: 4 }), { nil: null }),
  state: fc.constant('creating') as fc.Arbitrary<Pod['state']>,
  runtime: fc.constantFrom('runsc', 'runc'),
  sandboxed: fc.boolean(),
  resources: fc.record({ cpuCores: fc.integer({ min: 1, max: 6400 }).map((c) => c / 100), memoryMb: fc.integer({ min: 32, max: 262144 }), pidsLimit: fc.integer({ min: 8, max: 4096 }) }),
  ports: fc.uniqueArray(fc.integer({ min: 1, max: 65535 }), { maxLength: 16 }).map((ps) => ps.map((p, i) => ({ name: null, containerPort: p, hostPort: 30000 + i, hostIp: '127.0.0.1' }))),
  env: fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,10}$/), fc.string()),
  labels: fc.dictionary(fc.stringMatching(/^[a-z0-9]{1,10}$/), fc.string({ maxLength: 20 })),
  containerName: fc.constant('pinacle-pod-p0123456789abcdef'),
  volumeName: fc.constant('pinacle-ws-p0123456789abcdef'),
  containerId: fc.constant(null),
  createdAt: fc.constant('2026-01-01T00:00:00.000Z'),
  updatedAt: fc.constant('2026-01-01T00:00:00.000Z'),
  startedAt: fc.constant(null),
  finishedAt: fc.constant(null),
  exitCode: fc.constant(null),
  oomKilled: fc.constant(false),
  error: fc.constant(null),
});

t.test('property: whatever the pod, the body is hardened and limited (CIS container checks)', async (t) => {
  let runs = 0;
  fc.assert(
    fc.property(podArb, fc.option(fc.constant('pinacle-net-p0123456789abcdef'), { nil: null }), (p, network) => {
      runs++;
      const b = toDockerCreateBody(buildContainerSpec(p, { logMaxSize: '10m', logMaxFile: 3, network }));
      const h = b.HostConfig as unknown as Record<string, unknown> & typeof b.HostConfig;
      for (const k of FORBIDDEN_HOST_CONFIG) if (k in h) return false;
      return (
        h.Privileged === false &&
        h.CapDrop.join() === 'ALL' &&
        !h.CapAdd.some((c) => ['NET_RAW', 'SYS_ADMIN', 'NET_ADMIN', 'SYS_PTRACE', 'SYS_MODULE'].includes(c)) &&
        h.SecurityOpt.includes('no-new-privileges:true') &&
        h.Memory > 0 &&
        h.MemorySwap === h.Memory &&
        h.PidsLimit > 0 &&
        h.NanoCpus > 0 &&
        h.Ulimits.some((u) => u.Name === 'nofile') &&
        h.Mounts.every((m) => m.Type === 'volume' && !m.Source.startsWith('/')) &&
        Object.values(h.PortBindings).flat().every((pb) => pb.HostIp === '127.0.0.1') &&
        h.NetworkMode !== 'host' &&
        h.LogConfig.Type === 'json-file' &&
        !!h.LogConfig.Config['max-size'] &&
        (p.runtime !== 'runsc' || h.Ulimits.some((u) => u.Name === 'nproc' && u.Soft === p.resources.pidsLimit))
      );
    }),
    { numRuns: 500, seed: 6 },
  );
  t.equal(runs, 500);
});

t.test('network body: a named bridge from the pool, no IPv6, no inter-container traffic', async (t) => {
  const b = toDockerNetworkBody({ name: 'pinacle-net-p1', labels: { a: 'b' }, subnet: '10.213.0.16/28', gateway: '10.213.0.17', bridgeName: 'pcl0123456789ab' });
  t.same(b, {
    Name: 'pinacle-net-p1',
    Driver: 'bridge',
    CheckDuplicate: true,
    Internal: false,
    Attachable: false,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Config: [{ Subnet: '10.213.0.16/28', Gateway: '10.213.0.17' }] },
    Options: {
      'com.docker.network.bridge.name': 'pcl0123456789ab',
      'com.docker.network.bridge.enable_icc': 'false',
      'com.docker.network.bridge.enable_ip_masquerade': 'true',
    },
    Labels: { a: 'b' },
  });
});

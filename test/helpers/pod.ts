import type { Pod } from '../../src/pods/types.js';

/** A whole pod record for unit tests (spec builder, store); `over` replaces fields. */
export const podFixture = (over: Partial<Pod> = {}): Pod => ({
  id: 'p0123456789abcdef',
  name: 'web',
  template: 'custom',
  image: 'pinacled/testbox:1',
  command: ['sleep', '3600'],
  state: 'creating',
  runtime: 'runsc',
  sandboxed: true,
  resources: { cpuCores: 1.5, memoryMb: 256, pidsLimit: 100 },
  ports: [{ name: 'web', containerPort: 8080, hostPort: 30001, hostIp: '127.0.0.1' }],
  env: { API_KEY: 'sk-secret', EMPTY: '' },
  labels: { team: 'a', 'x.y/z': 'v' },
  containerName: 'pinacle-pod-p0123456789abcdef',
  volumeName: 'pinacle-ws-p0123456789abcdef',
  containerId: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  startedAt: null,
  finishedAt: null,
  exitCode: null,
  oomKilled: false,
  error: null,
  ...over,
});

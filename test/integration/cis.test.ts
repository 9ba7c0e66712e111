import { randomBytes } from 'node:crypto';
import t from 'tap';
import { cisViolations, inspectContainers, managedContainerIds } from '../helpers/cis.js';
import { realDaemon, TEST_IMAGE } from '../helpers/daemon.js';
import { templateRuntime } from '../helpers/sandbox.js';

/**
 * Acceptance 5 of issue 6: an inspect-based CIS Docker Benchmark check (section 5) over the
 * containers pinacled creates, on the real engine; and requests that try to widen a container
 * (privileged, host mounts, host namespaces) are refused before anything reaches Docker.
 */
t.test('CIS container checks hold for every container pinacled created', async (t) => {
  const d = await realDaemon(t);
  const tag = randomBytes(3).toString('hex');

  t.test('smuggling host access is a 400 and creates nothing', async (t) => {
    const base = { name: `smuggle-${tag}`, template: 'custom', image: TEST_IMAGE };
    const attempts: Record<string, unknown>[] = [
      { privileged: true },
      { HostConfig: { Privileged: true, Binds: ['/:/host'] } },
      { binds: ['/var/run/docker.sock:/var/run/docker.sock'] },
      { mounts: [{ type: 'bind', source: '/etc', target: '/host-etc' }] },
      { volumes: ['/:/host'] },
      { networkMode: 'host' },
      { pidMode: 'host' },
      { ipcMode: 'host' },
      { capAdd: ['SYS_ADMIN', 'NET_RAW'] },
      { devices: ['/dev/kvm'] },
      { securityOpt: ['seccomp=unconfined', 'apparmor=unconfined'] },
      { runtime: 'runc' },
      { ports: [{ containerPort: 80, hostIp: '0.0.0.0' }] },
      { resources: { memoryMb: 256, privileged: true } },
    ];
    for (const extra of attempts) {
      const r = await d.request('POST', '/v1/pods', { ...base, ...extra });
      t.equal(r.status, 400, `${JSON.stringify(extra)} -> ${r.status}`);
      t.equal(r.body?.code, 'PINACLED_ERR_VALIDATION');
    }
    t.same((await d.request('GET', '/v1/pods')).body.items, [], 'nothing was created');
  });

  const ours: string[] = [];
  t.test('pods of every kind this host can run', async (t) => {
    const custom = await d.request('POST', '/v1/pods', {
      name: `cis-custom-${tag}`,
      template: 'custom',
      image: TEST_IMAGE,
      command: ['sh', '-c', 'exec httpd -f -p 8080 -h /'],
      resources: { cpuCores: 0.5, memoryMb: 128, pidsLimit: 64 },
      ports: [{ containerPort: 8080 }, { containerPort: 9090, name: 'other' }],
      env: { TOKEN: 'x'.repeat(40) },
      labels: { team: 'cis' },
    });
    t.equal(custom.status, 201, custom.text);
    ours.push(custom.body.containerId);
    const minimal = await d.request('POST', '/v1/pods', { name: `cis-min-${tag}`, template: 'custom', image: TEST_IMAGE, command: ['sleep', '600'] });
    t.equal(minimal.status, 201, minimal.text);
    ours.push(minimal.body.containerId);
    // Built-in templates whose image is on this host (no image is ever pulled).
    const templates = (await d.request('GET', '/v1/templates')).body.items as { name: string; imagePresent: boolean | null }[];
    for (const tpl of templates.filter((x) => x.imagePresent)) {
      const r = await d.request('POST', '/v1/pods', { name: `cis-${tpl.name}-${tag}`, template: tpl.name });
      t.equal(r.status, 201, `template ${tpl.name}: ${r.status}`);
      if (r.status === 201) ours.push(r.body.containerId);
    }
    t.comment(`templates with an image on this host: ${templates.filter((x) => x.imagePresent).map((x) => x.name).join(', ') || 'none'}`);
  });

  t.test('zero violations on this suite\'s pods, and on every pinacled container on the engine', async (t) => {
    const mine = inspectContainers(ours);
    t.equal(mine.length, ours.length);
    const v1 = mine.flatMap((c) => cisViolations(c, { publishHosts: ['127.0.0.1'] }));
    t.same(v1, [], `${mine.length} containers of this suite: ${v1.length} violations`);
    for (const c of mine) {
      const template = c.Config.Labels?.['dev.pinacle.template'];
      t.equal(c.HostConfig.Runtime, templateRuntime(template), `${c.Name} (${template}) runs under gVisor, on its template's platform`);
    }
    // Every container pinacled (any daemon, any suite running now) created: it carries the store id.
    const all = inspectContainers(managedContainerIds()).filter((c) => c.Config.Labels?.['dev.pinacle.store-id']);
    const v2 = all.flatMap((c) => cisViolations(c));
    t.same(v2, [], `${all.length} pinacled containers on the engine: ${v2.length} violations`);
    t.comment(`CIS: ${mine.length} containers of this suite and ${all.length} pinacled containers on the engine checked, ${v1.length + v2.length} violations`);
  });
});

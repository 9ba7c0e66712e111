import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { eventually } from '../helpers/app.js';
import { realDaemon, TEST_IMAGE } from '../helpers/daemon.js';

/*
 * A real Prometheus server (Debian's package) scrapes a real daemon with the separate metrics
 * token, as the README's scrape config shows, and its query API returns a running pod's working
 * set.
 */

const MB = 1024 * 1024;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

t.test('Prometheus scrapes the daemon and answers with the working set of a running pod', async (t) => {
  const metricsToken = `prom-${Math.random().toString(36).slice(2)}-metrics-token`;
  const d = await realDaemon(t, { PINACLED_STATS_INTERVAL_S: '1', PINACLED_METRICS_TOKEN: metricsToken });
  const pod = await d.request('POST', '/v1/pods', {
    name: 'prom',
    template: 'custom',
    image: TEST_IMAGE,
    command: ['sh', '-c', 'dd if=/dev/zero of=/tmp/fill bs=1M count=100 2>/dev/null; exec sleep 1000000'],
    resources: { memoryMb: 256, cpuCores: 0.5 },
  });
  if (pod.status !== 201) throw new Error(`create: ${pod.status} ${pod.text}`);
  const podId = pod.body.id as string;

  const dir = mkdtempSync(join(tmpdir(), 'pinacled-prom-'));
  const tokenFile = join(dir, 'metrics-token');
  writeFileSync(tokenFile, metricsToken, { mode: 0o600 });
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: pinacled
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: ${tokenFile}
    static_configs:
      - targets: ['127.0.0.1:${d.port}']
`,
  );
  const port = await freePort();
  let out = '';
  const prom: ChildProcess = spawn(
    '/usr/bin/prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prom.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  prom.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  t.teardown(async () => {
    if (prom.exitCode === null && prom.signalCode === null) {
      const exited = new Promise((r) => prom.once('exit', r));
      prom.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (prom.exitCode === null && prom.signalCode === null) prom.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const base = `http://127.0.0.1:${port}`;
  await eventually(async () => {
    if (prom.exitCode !== null) throw new Error(`prometheus exited ${prom.exitCode}: ${out.slice(-2000)}`);
    return (await fetch(`${base}/-/ready`).catch(() => undefined))?.status === 200;
  }, 30_000, 200);

  const query = async (q: string) => {
    const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    return body.data.result;
  };
  const up = await eventually(async () => {
    const r = await query('up{job="pinacled"}');
    return r[0]?.value[1] === '1' && r;
  }, 30_000, 250);
  t.equal(up[0]!.value[1], '1', 'the target is up (the bearer token file works)');

  const ws = await eventually(async () => {
    const r = await query(`pinacled_pod_memory_working_set_bytes{pod_id="${podId}"}`);
    return r.length === 1 && Number(r[0]!.value[1]) >= 100 * MB && r;
  }, 30_000, 250);
  const stats = (await d.request('GET', `/v1/pods/${podId}/stats`)).body;
  const promValue = Number(ws[0]!.value[1]);
  t.comment(`Prometheus: working set ${(promValue / MB).toFixed(1)} MB; /stats now ${(stats.memoryWorkingSetBytes / MB).toFixed(1)} MB`);
  t.same(
    { pod_name: ws[0]!.metric.pod_name, template: ws[0]!.metric.template, job: ws[0]!.metric.job },
    { pod_name: 'prom', template: 'custom', job: 'pinacled' },
  );
  t.ok(promValue >= 100 * MB && promValue < 256 * MB, 'the 100 MB the pod holds, under its limit');
  t.ok(Math.abs(promValue - stats.memoryWorkingSetBytes) < 10 * MB, 'agrees with the stats API');

  // A rate over the CPU counter works (the counter type and labels are usable in PromQL).
  const rate = await eventually(async () => {
    const r = await query(`rate(pinacled_pod_cpu_usage_seconds_total{pod_id="${podId}"}[5s])`);
    return r.length === 1 && r;
  }, 30_000, 250);
  t.ok(Number(rate[0]!.value[1]) < 0.2, `an idle pod's CPU rate is near zero (${rate[0]!.value[1]})`);
  const fleet = await query('pinacled_pods{state="running"}');
  t.equal(fleet[0]?.value[1], '1');
});

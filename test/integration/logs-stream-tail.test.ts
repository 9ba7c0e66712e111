import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { eventually } from '../helpers/app.js';
import { realDaemon, TEST_IMAGE } from '../helpers/daemon.js';
import { connect } from '../helpers/ws.js';

const sh = promisify(execFile);

/** One stream of `docker logs NAME`, as docker prints it. */
async function dockerLogs(name: string, stream: 'stdout' | 'stderr'): Promise<string[]> {
  const redirect = stream === 'stdout' ? '2>/dev/null' : '2>&1 >/dev/null';
  const { stdout } = await sh('sh', ['-c', `docker logs ${name} ${redirect}`], { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 });
  return stdout.trimEnd().split('\n');
}

t.test('under runsc, tail=5&stream=stdout is the last 5 stdout lines of a pod alternating stdout and stderr', async (t) => {
  const d = await realDaemon(t);
  // Ends with a burst of stderr, written a second later (the engine copies the two streams in
  // two goroutines, so lines written close together can land in its file in either order):
  // Docker's own tail=5 of stdout is empty here.
  const script = 'i=1; while [ $i -le 40 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done; sleep 1; j=1; while [ $j -le 20 ]; do echo late$j >&2; j=$((j+1)); done; echo done >&2; while [ ! -f /tmp/go ]; do sleep 0.1; done; echo live-err >&2; echo live-out; sleep 3600';
  const res = await d.request('POST', '/v1/pods', { name: 'alternating', template: 'custom', image: TEST_IMAGE, command: ['sh', '-c', script] });
  t.equal(res.status, 201, res.text);
  const pod = res.body as { id: string; sandboxed: boolean };
  t.equal(pod.sandboxed, true, 'the pod runs under gVisor');
  const container = `pinacle-pod-${pod.id}`;
  const runtime = (await sh('docker', ['inspect', '-f', '{{.HostConfig.Runtime}}', container])).stdout.trim();
  t.match(runtime, /^runsc/, `runtime ${runtime}`);
  await eventually(async () => (await dockerLogs(container, 'stderr')).at(-1) === 'done', 30_000, 100);

  const stdout = await dockerLogs(container, 'stdout');
  const stderr = await dockerLogs(container, 'stderr');
  t.same(stdout.slice(-5), ['out36', 'out37', 'out38', 'out39', 'out40'], 'docker holds the lines the script wrote');
  const engine = (await sh('sh', ['-c', `docker logs --tail 5 ${container} 2>/dev/null`])).stdout;
  t.equal(engine, '', "Docker's tail=5 of stdout alone is empty: it tails the combined log first");

  const get = async (q: string) => {
    const r = await fetch(`${d.baseUrl}/v1/pods/${pod.id}/logs?${q}`, { headers: { authorization: `Bearer ${d.token}` } });
    t.equal(r.status, 200, q);
    return r.text();
  };
  t.equal(await get('tail=5&stream=stdout'), `${stdout.slice(-5).join('\n')}\n`, 'tail=5&stream=stdout: exactly the last 5 stdout lines');
  t.equal(await get('tail=7&stream=stderr'), `${stderr.slice(-7).join('\n')}\n`, 'tail=7&stream=stderr: the last 7 stderr lines');
  t.equal(await get('tail=100&stream=stdout'), `${stdout.join('\n')}\n`, 'more than the stream holds: all of it');

  // The WebSocket backlog, followed (a running pod) and not.
  const wsUrl = `ws://127.0.0.1:${d.port}/v1/pods/${pod.id}/logs/stream`;
  const headers = { authorization: `Bearer ${d.token}` };
  const once = await connect(`${wsUrl}?tail=5&stream=stdout&follow=false`, { headers });
  t.equal((await once.closed).code, 1000);
  t.same(once.msgs.map((m) => m.line ?? m.reason), [...stdout.slice(-5), 'complete'], 'WebSocket follow=false backlog');
  const live = await connect(`${wsUrl}?tail=5&stream=stdout`, { headers });
  await eventually(() => live.msgs.length >= 5, 10_000, 20);
  await sh('docker', ['exec', container, 'touch', '/tmp/go']);
  await live.until((m) => m.line === 'live-out', 20_000);
  live.ws.close();
  t.same(live.msgs.map((m) => m.line), [...stdout.slice(-5), 'live-out'], 'WebSocket follow backlog, then the live stdout line once');
});

import t from 'tap';
import { disagreement, engineView, isClean, storeIdOf } from '../helpers/agreement.js';
import { realDaemon, TEST_IMAGE } from '../helpers/daemon.js';
import { docker } from '../helpers/docker.js';

/**
 * Acceptance 6: SIGTERM while creates are in flight. The daemon stops accepting, lets the
 * creates finish (or roll back), exits 0, and leaves no half-created pod; running pods keep
 * running across the restart.
 */
const sleepPod = (name: string) => ({ name, template: 'custom', image: TEST_IMAGE, command: ['sleep', '3600'], resources: { memoryMb: 64 } });
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('SIGTERM during creates: they finish, nothing is half made, pods keep running', async (t) => {
  const d = await realDaemon(t);
  const view = engineView();
  const steady = (await d.request('POST', '/v1/pods', sleepPod('steady'))).body;
  t.equal(steady.state, 'running');
  const sid = await storeIdOf(view, steady.id);
  const startedAt = await docker('inspect', '-f', '{{.State.StartedAt}}', `pinacle-pod-${steady.id}`);

  const creates = [1, 2, 3].map((i) =>
    d.request('POST', '/v1/pods', sleepPod(`inflight-${i}`), { 'idempotency-key': `sigterm-${i}` }).catch((err: Error) => ({ status: 0, body: { err: err.message }, text: '' })),
  );
  await pause(250); // the creates are past their row insert, in the engine
  const t0 = Date.now();
  const exited = d.stop(); // SIGTERM
  await pause(100);
  const late = await d.request('POST', '/v1/pods', sleepPod('too-late')).catch((err: Error) => ({ status: 0, body: { err: err.message }, text: '' }));
  t.ok(late.status === 0 || late.status === 503, `a request after SIGTERM is refused (${late.status})`);
  const code = await exited;
  const exitMs = Date.now() - t0;
  t.equal(code, 0, 'clean exit');
  const answers = await Promise.all(creates);
  const finished = answers.filter((a) => a.status === 201).length;
  t.comment(`SIGTERM with 3 creates in flight: ${finished} finished with 201, exit after ${exitMs} ms; answers ${answers.map((a) => a.status).join(', ')}`);

  t.equal(await docker('inspect', '-f', '{{.State.Running}}', `pinacle-pod-${steady.id}`), 'true', 'the running pod runs on with the daemon gone');
  await d.restart();
  t.equal(await docker('inspect', '-f', '{{.State.StartedAt}}', `pinacle-pod-${steady.id}`), startedAt, 'and was never restarted');
  const pods = (await d.listPods()) as { id: string; name: string; state: string; error: { code: string } | null }[];
  const diff = await disagreement(view, sid, pods);
  t.ok(isClean(diff), `no half-created pod, no leftover container: ${JSON.stringify(diff)}`);
  for (const [i, a] of answers.entries()) {
    const listed = pods.find((p) => p.name === `inflight-${i + 1}`);
    if (a.status === 201) t.equal(listed?.state, 'running', `inflight-${i + 1}: acknowledged and running`);
    else t.notOk(listed, `inflight-${i + 1}: not acknowledged, not there`);
  }
  t.notOk(pods.some((p) => p.name === 'too-late'));
  t.equal(pods.find((p) => p.id === steady.id)?.state, 'running');
});

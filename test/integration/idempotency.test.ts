import t from 'tap';
import { disagreement, engineView, isClean, storeIdOf } from '../helpers/agreement.js';
import { realDaemon, TEST_IMAGE } from '../helpers/daemon.js';

/**
 * Acceptance 2 on the real engine (the 100 x 5 run is test/api/idempotency.test.ts): each key
 * sent 4 times at once, every sender retrying 409 IN_FLIGHT until it gets the final answer.
 */
const KEYS = 6;
const SENDS = 4;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test(`${KEYS} keys x ${SENDS} concurrent sends against runsc: one container per key, identical answers`, async (t) => {
  const d = await realDaemon(t);
  const view = engineView();
  let conflicts = 0;
  const send = async (i: number) => {
    for (;;) {
      const r = await d.request('POST', '/v1/pods', { name: `idem-${i}`, template: 'custom', image: TEST_IMAGE, command: ['sleep', '3600'], resources: { memoryMb: 64 } }, { 'idempotency-key': `real-${i}` });
      if (r.status !== 409 || r.body.code !== 'PINACLED_ERR_IDEMPOTENCY_IN_FLIGHT') return r;
      conflicts++;
      await pause(200);
    }
  };
  const groups = await Promise.all(Array.from({ length: KEYS }, (_, i) => Promise.all(Array.from({ length: SENDS }, () => send(i)))));
  for (const [i, g] of groups.entries()) {
    t.equal(g[0]!.status, 201, g[0]!.text);
    t.ok(g.every((r) => r.status === 201 && r.text === g[0]!.text), `key ${i}: ${SENDS} identical answers`);
    t.equal(g.filter((r) => r.headers.get('idempotent-replayed') === 'true').length, SENDS - 1, `key ${i}: one original, ${SENDS - 1} replays`);
  }
  const pods = await d.listPods();
  t.equal(pods.length, KEYS);
  const sid = await storeIdOf(view, pods[0].id);
  const containers = await view.listContainers(`dev.pinacle.store-id=${sid}`);
  t.equal(containers.length, KEYS, 'exactly one container per key in the engine');
  t.ok(isClean(await disagreement(view, sid, pods)));
  const mismatch = await d.request('POST', '/v1/pods', { name: 'idem-other', template: 'custom', image: TEST_IMAGE }, { 'idempotency-key': 'real-0' });
  t.equal(mismatch.status, 422);
  t.equal(mismatch.body.code, 'PINACLED_ERR_IDEMPOTENCY_MISMATCH');
  t.comment(`${KEYS} keys x ${SENDS} concurrent sends on runsc: ${containers.length} containers, ${conflicts} x 409 IN_FLIGHT before the replays`);
});

import { writeFileSync } from 'node:fs';
import t from 'tap';
import { disagreement, engineView, isClean, storeIdOf } from '../helpers/agreement.js';
import { realDaemon, TEST_IMAGE } from '../helpers/daemon.js';

/**
 * Acceptance 1: the daemon is killed with SIGKILL at random moments while 4 clients create and
 * delete pods (each request under an Idempotency-Key, retried after a failure as a real client
 * would). After every restart and first reconcile pass: no container or volume of this store
 * without a pod, no acknowledged pod lost, no pod in a transitional state, every pod's state
 * the engine's. At the end every retried request has its answer: one pod per create key, no
 * second container, no 404 for a delete whose first attempt died with the daemon.
 */
const ROUNDS = Number(process.env.PINACLED_CRASH_ROUNDS ?? 50);
const CLIENTS = 4;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo));

t.test(`kill -9 ${ROUNDS} times under create/delete load`, async (t) => {
  const started = Date.now();
  const d = await realDaemon(t, { PINACLED_RECONCILE_INTERVAL_S: '2', PINACLED_STOP_TIMEOUT_S: '0' });
  t.teardown(() => writeFileSync('/tmp/pinacled-crash-daemon.log', d.output()));
  const view = engineView();
  const seed = await d.request('POST', '/v1/pods', { name: 'seed', template: 'custom', image: TEST_IMAGE, command: ['sleep', '3600'], resources: { memoryMb: 64 } });
  t.equal(seed.status, 201, seed.text);
  const sid = await storeIdOf(view, seed.body.id);

  const acked = new Map<string, string>([[seed.body.id, 'seed']]); // pod id -> create key
  const podOfKey = new Map<string, string>(); // create key -> pod id of its first 201
  const deleteSent = new Set<string>();
  const deleted = new Set<string>();
  const answers: Record<string, number> = {};
  const problems: string[] = [];
  let gateOpen = true;
  let stopping = false;
  let aborted = false;
  const inFlight = new Map<Promise<unknown>, string>();

  const call = async (what: string, method: string, path: string, body: unknown, key: string) => {
    while (!gateOpen && !aborted) await pause(20);
    const p = d.request(method, path, body, { 'idempotency-key': key }).catch((err: Error) => ({ status: 0, body: { code: `network: ${err.cause ?? err.message}` }, text: '' }));
    inFlight.set(p, what);
    const r = await p;
    inFlight.delete(p);
    const label = r.status >= 400 || r.status === 0 ? `${r.status} ${(r.body as { code?: string })?.code ?? ''}` : String(r.status);
    answers[`${what} ${label}`] = (answers[`${what} ${label}`] ?? 0) + 1;
    return r;
  };

  const client = async (c: number) => {
    const live: string[] = [];
    let n = 0;
    let pending: { op: 'create'; key: string; name: string } | { op: 'delete'; key: string; id: string } | undefined;
    for (;;) {
      if (aborted) return;
      if (!pending) {
        if (stopping) return;
        if (live.length < 2 || (live.length < 3 && Math.random() < 0.5)) {
          n++;
          pending = { op: 'create', key: `c${c}-${n}`, name: `crash-${c}-${n}` };
        } else {
          const id = live.splice(rand(0, live.length), 1)[0]!;
          n++;
          pending = { op: 'delete', key: `d${c}-${n}`, id };
          deleteSent.add(id);
        }
      }
      if (pending.op === 'create') {
        const body = { name: pending.name, template: 'custom', image: TEST_IMAGE, command: ['sleep', '3600'], resources: { memoryMb: 64 } };
        const r = await call('create', 'POST', '/v1/pods', body, pending.key);
        if (r.status === 201) {
          const first = podOfKey.get(pending.key);
          if (first && first !== r.body.id) problems.push(`key ${pending.key} answered two pods: ${first}, ${r.body.id}`);
          podOfKey.set(pending.key, r.body.id);
          acked.set(r.body.id, pending.key);
          live.push(r.body.id);
          pending = undefined;
        } else if (r.status !== 0 && r.status !== 503 && r.body?.code !== 'PINACLED_ERR_IDEMPOTENCY_IN_FLIGHT') {
          problems.push(`create ${pending.key}: ${r.status} ${JSON.stringify(r.body)}`);
          pending = undefined;
        }
      } else {
        const r = await call('delete', 'DELETE', `/v1/pods/${pending.id}?timeout=0`, undefined, pending.key);
        if (r.status === 204) {
          deleted.add(pending.id);
          pending = undefined;
        } else if (r.status !== 0 && r.status !== 503 && r.status !== 409) {
          problems.push(`delete ${pending.key}: ${r.status} ${JSON.stringify(r.body)}`);
          pending = undefined;
        }
      }
      if (pending) await pause(100);
    }
  };
  const clients = Array.from({ length: CLIENTS }, (_, c) => client(c));

  const rounds: { runMs: number; inFlight: string[]; readyMs: number; clean: boolean }[] = [];
  // A failed restart must not leave the clients spinning forever.
  t.teardown(() => {
    aborted = true;
  });
  for (let round = 0; round < ROUNDS; round++) {
    gateOpen = true;
    const runMs = rand(300, 2500);
    await pause(runMs);
    const cut = [...inFlight.values()];
    await d.kill();
    gateOpen = false;
    await Promise.allSettled([...inFlight.keys()]);
    const t0 = Date.now();
    await d.restart(); // returns once /readyz is 200: the first reconcile pass is done
    const readyMs = Date.now() - t0;

    const pods = (await d.listPods()) as { id: string; name: string; state: string; error: { code: string } | null }[];
    const diff = await disagreement(view, sid, pods);
    const listed = new Set(pods.map((p) => p.id));
    const lost = [...acked.keys()].filter((id) => !listed.has(id) && !deleteSent.has(id));
    const clean = isClean(diff) && lost.length === 0;
    if (!clean) problems.push(`round ${round}: ${JSON.stringify({ ...diff, lost })}`);
    t.ok(isClean(diff), `round ${round}: engine and store agree after restart ${JSON.stringify(diff)}`);
    t.same(lost, [], `round ${round}: no acknowledged pod lost`);
    rounds.push({ runMs, inFlight: cut, readyMs, clean });
  }

  // Let every client get the answer to its last request, then nothing may be unaccounted for.
  gateOpen = true;
  stopping = true;
  await Promise.all(clients);
  const pods = (await d.listPods()) as { id: string; name: string; state: string; error: { code: string } | null }[];
  const finalDiff = await disagreement(view, sid, pods);
  t.ok(isClean(finalDiff), `final: ${JSON.stringify(finalDiff)}`);
  const unknown = pods.filter((p) => !acked.has(p.id));
  t.same(unknown.map((p) => p.name), [], 'every pod was acknowledged to a client (a retried create got the pod its first attempt made)');
  const expected = [...acked.keys()].filter((id) => !deleted.has(id)).sort();
  t.same(pods.map((p) => p.id).sort(), expected, 'the pods are exactly the acknowledged creates minus the acknowledged deletes');
  const containers = await view.listContainers(`dev.pinacle.store-id=${sid}`);
  t.equal(containers.length, pods.length, 'one container per pod');
  t.same(problems, [], 'no unexpected answer');

  const repairs: Record<string, number> = {};
  for (const line of d.output().split('\n')) {
    const m = /"repair":"([a-z_]+)"/.exec(line);
    if (m) repairs[m[1]!] = (repairs[m[1]!] ?? 0) + 1;
  }
  const killedMidRequest = rounds.filter((r) => r.inFlight.length > 0).length;
  const cutCounts: Record<string, number> = {};
  for (const r of rounds) for (const w of r.inFlight) cutCounts[w] = (cutCounts[w] ?? 0) + 1;
  const ready = rounds.map((r) => r.readyMs).sort((a, b) => a - b);
  t.comment(
    `${ROUNDS} kill -9 rounds in ${Math.round((Date.now() - started) / 1000)} s: ${rounds.filter((r) => r.clean).length} clean; ` +
      `${killedMidRequest} kills landed with requests in flight (${JSON.stringify(cutCounts)}); ` +
      `restart-to-ready median ${ready[Math.floor(ready.length / 2)]} ms, max ${ready.at(-1)} ms; ` +
      `creates acknowledged ${acked.size}, deletes acknowledged ${deleted.size}, pods at the end ${pods.length}`,
  );
  t.comment(`repairs by kind: ${JSON.stringify(repairs)}`);
  t.comment(`answers: ${JSON.stringify(answers)}`);
});

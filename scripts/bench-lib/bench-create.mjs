import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon } from './daemon.mjs';
import { baseline, docker, rawCreate, rawDelete } from './engine.mjs';
import { IMAGE, createBody, dist, podFor, shortId } from './fixtures.mjs';
import { msSince, now, summarize, timed } from './stats.mjs';

/**
 * 1. Create+start and stop+delete of one pod, pinacled (POST answers once running; DELETE)
 * vs raw dockerode (volume, create, start, inspect; stop, remove, remove volume), interleaved
 * A B A B (after one warm-up each). Also a breakdown of what the daemon adds to the engine's
 * work: the raw steps, and the daemon's own steps timed alone (image inspect, busy-port scan,
 * store writes, and the network list its subnet allocation makes when pods get networks).
 */
export async function benchCreate(ctx) {
  const runs = ctx.quick ? 3 : 20;
  const d = await startDaemon({ name: 'pinacled-create' });
  try {
    // Warm-up: one pod each way.
    const wp = await d.createPod(createBody(`warm-${shortId()}`));
    await d.deletePod(wp.id);
    await rawDelete(await rawCreate());

    const s = { pinacledCreate: [], rawCreate: [], pinacledDelete: [], rawDelete: [], rawSteps: [] };
    for (let i = 0; i < runs; i++) {
      const [pod, pc] = await timed(() => d.createPod(createBody(`c${i}-${shortId()}`)));
      s.pinacledCreate.push(pc);
      s.pinacledDelete.push((await timed(() => d.deletePod(pod.id)))[1]);
      const raw = await rawCreate();
      s.rawCreate.push(raw.ms);
      s.rawSteps.push(raw.steps);
      s.rawDelete.push(await rawDelete(raw));
      ctx.progress(i + 1, runs);
    }
    const breakdown = await createBreakdown(runs, s.rawSteps);
    return {
      runs,
      createStart: { pinacled: summarize(s.pinacledCreate), raw: summarize(s.rawCreate) },
      stopDelete: { pinacled: summarize(s.pinacledDelete), raw: summarize(s.rawDelete) },
      breakdown,
      samples: s,
    };
  } finally {
    await d.stop();
  }
}

/**
 * What pinacled's create does besides the raw steps, each timed on its own: the image check
 * (an engine call), reading /proc/net/tcp for busy ports, and three store writes (insert with
 * port allocation, `starting`, `running`), each a synchronous=FULL transaction in WAL mode.
 */
async function createBreakdown(runs, rawSteps) {
  const [{ openDb }, { PodsRepo }, { listeningPorts }] = await Promise.all([dist('store/db.js'), dist('store/pods-repo.js'), dist('pods/host-ports.js')]);
  const dir = mkdtempSync(join(tmpdir(), 'pinacled-bench-store-'));
  const db = openDb(dir);
  const repo = new PodsRepo(db);
  const imageExists = [];
  const ports = [];
  const writes = [];
  const networkList = [];
  try {
    for (let i = 0; i < runs; i++) {
      imageExists.push((await timed(() => docker.getImage(IMAGE).inspect()))[1]);
      if (baseline.perPodNetwork) networkList.push((await timed(() => docker.listNetworks()))[1]);
      let t = now();
      const busy = await listeningPorts();
      ports.push(msSince(t));
      const id = `b${shortId()}`;
      t = now();
      const pod = podFor({ id, name: id, containerName: `c-${id}`, volumeName: `v-${id}` });
      delete pod.ports;
      repo.insertWithPorts(pod, [{ containerPort: 8080, name: null }], '127.0.0.1', { low: 30000, high: 32767 }, (p) => !busy.has(p));
      repo.update(id, { containerId: 'x', state: 'starting' }, new Date().toISOString());
      repo.update(id, { state: 'running', startedAt: new Date().toISOString() }, new Date().toISOString());
      writes.push(msSince(t));
    }
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const step = (k) => summarize(rawSteps.map((x) => x[k]).filter((x) => x !== undefined));
  const raw = Object.fromEntries(['createNetwork', 'createVolume', 'createContainer', 'start', 'inspect'].map((k) => [k, step(k)]).filter(([, v]) => v.n));
  const pinacledOnly = { imageInspect: summarize(imageExists), listeningPorts: summarize(ports), storeWrites3: summarize(writes) };
  if (networkList.length) pinacledOnly.listNetworks = summarize(networkList);
  return { raw, pinacledOnly };
}

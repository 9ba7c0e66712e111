import { startBareFastify } from './bare.mjs';
import { startDaemon } from './daemon.mjs';
import { median } from './stats.mjs';
import { wrk } from './wrk.mjs';

/**
 * 3. Reads: GET /v1/pods (its default page: 100 pods) and GET /v1/pods/{id} on daemons holding
 * 10 and 1,000 pod rows (no
 * containers), vs a bare Fastify route serving the same pod JSON, each a bounded wrk run,
 * interleaved round by round. The seeded daemons' reconcile interval is 1 h: every pass
 * inspects each row whose container is missing (a cost real pods, whose containers exist, do
 * not have), and the first pass runs before the daemon is ready anyway.
 */
export async function benchReads(ctx) {
  const rounds = ctx.quick ? 1 : 5;
  const seconds = ctx.quick ? 2 : 4;
  const connections = 8;
  const env = { PINACLED_RECONCILE_INTERVAL_S: '3600' };
  const daemons = {};
  let bare;
  try {
    for (const n of [10, 1000]) daemons[n] = await startDaemon({ seed: n, env, name: `pinacled-${n}` });
    const first = async (n) => {
      const all = await daemons[n].req('GET', '/v1/pods?limit=1000');
      if (all.status !== 200 || all.json.items.length !== n) throw new Error(`daemon with ${n} rows lists ${all.json?.items?.length}`);
      const page = await daemons[n].req('GET', '/v1/pods');
      return { id: all.json.items[0].id, listBytes: page.bytes, listAllBytes: all.bytes, pageItems: page.json.items.length };
    };
    const p10 = await first(10);
    const p1000 = await first(1000);
    const one = await daemons[10].req('GET', `/v1/pods/${p10.id}`);
    bare = await startBareFastify(one.json);
    const auth = (n) => ({ authorization: `Bearer ${daemons[n].token}` });
    const scenarios = {
      'get@10': [`${daemons[10].url}/v1/pods/${p10.id}`, auth(10)],
      'get@1000': [`${daemons[1000].url}/v1/pods/${p1000.id}`, auth(1000)],
      'list@10': [`${daemons[10].url}/v1/pods`, auth(10)],
      'list@1000': [`${daemons[1000].url}/v1/pods`, auth(1000)],
      // Information: one page holding all 1,000 pods (a client that asks for everything at once).
      'listall@1000': [`${daemons[1000].url}/v1/pods?limit=1000`, auth(1000)],
      'bare-pod': [`${bare.url}/v1/pods/${p10.id}`, {}],
      'bare-hello': [`${bare.url}/hello`, {}],
    };
    const runs = Object.fromEntries(Object.keys(scenarios).map((k) => [k, []]));
    for (let r = 0; r < rounds; r++) {
      for (const [k, [url, headers]] of Object.entries(scenarios)) {
        const res = await wrk(url, { connections, seconds, headers });
        if (res.non2xx || res.socketErrors) ctx.log(`  ${k}: ${res.non2xx} non-2xx, ${res.socketErrors} socket errors`);
        runs[k].push(res);
      }
      ctx.progress(r + 1, rounds);
    }
    const agg = (k) => ({
      rps: median(runs[k].map((x) => x.rps)),
      p50Ms: median(runs[k].map((x) => x.p50)),
      p99Ms: median(runs[k].map((x) => x.p99)),
      runs: runs[k],
    });
    return {
      rounds,
      secondsPerRun: seconds,
      connections,
      podBytes: one.bytes,
      // GET /v1/pods answers a page (default 100 pods, issue 8 notes in the README).
      listBytes: { 10: p10.listBytes, 1000: p1000.listBytes, '1000-limit-1000': p1000.listAllBytes },
      listPageItems: { 10: p10.pageItems, 1000: p1000.pageItems },
      readyAfterMs: { 10: daemons[10].readyAfterMs, 1000: daemons[1000].readyAfterMs },
      scenarios: Object.fromEntries(Object.keys(scenarios).map((k) => [k, agg(k)])),
    };
  } finally {
    await bare?.stop();
    for (const d of Object.values(daemons)) await d.stop({ deletePods: false });
  }
}

import { idleWindow, startDaemon } from './daemon.mjs';
import { createBody, shortId } from './fixtures.mjs';
import { pool, sleep, summarize, timed } from './stats.mjs';

/** Default PINACLED_STATS_INTERVAL_S: wait a full collector pass (and a bit) after creating pods. */
const STATS_INTERVAL_S = 10;

/**
 * 4 + 6. One daemon, grown from 0 to 5 to 30 running pods: its idle CPU and RSS at 0 and 30
 * pods (from /proc), and /metrics scrape times at 5 and 30 pods (sequential scrapes over a
 * keep-alive connection, after the stats collector has sampled every pod).
 */
export async function benchScale(ctx) {
  // A full window spans the daemon's 30 s periodic work (reconcile pass, firewall check) twice.
  const idleS = ctx.quick ? 5 : 60;
  const scrapes = ctx.quick ? 10 : 60;
  const d = await startDaemon({ name: 'pinacled-scale' });
  const out = { idleWindowS: idleS, scrapesPerLevel: scrapes, idle: {}, scrape: {}, rssAfterReadyBytes: null };
  try {
    await sleep(3000);
    out.idle[0] = await idleWindow(d.pid, idleS);
    ctx.log(`  idle at 0 pods: ${out.idle[0].cpuPercent.toFixed(2)}% CPU, ${(out.idle[0].rssMaxBytes / 2 ** 20).toFixed(1)} MB RSS`);
    let have = 0;
    for (const target of [5, 30]) {
      await pool(target - have, 2, () => d.createPod(createBody(`s-${shortId()}`)));
      have = target;
      await sleep((STATS_INTERVAL_S + 2) * 1000);
      if (target === 30) {
        out.idle[30] = await idleWindow(d.pid, idleS);
        ctx.log(`  idle at 30 pods: ${out.idle[30].cpuPercent.toFixed(2)}% CPU, ${(out.idle[30].rssMaxBytes / 2 ** 20).toFixed(1)} MB RSS`);
      }
      out.scrape[target] = await scrapeSeries(d, scrapes);
      ctx.log(`  /metrics at ${target} pods: p50 ${out.scrape[target].ms.median.toFixed(2)} ms, p95 ${out.scrape[target].ms.p95.toFixed(2)} ms, ${out.scrape[target].bytes} bytes`);
    }
    return out;
  } finally {
    await d.stop();
  }
}

async function scrapeSeries(d, n) {
  const ms = [];
  let last;
  for (let i = 0; i < n + 2; i++) {
    const [r, t] = await timed(() => d.req('GET', '/metrics'));
    if (r.status !== 200) throw new Error(`/metrics -> ${r.status}`);
    if (i >= 2) ms.push(t); // two warm-up scrapes (JIT, first serialisation)
    last = r;
    await sleep(50);
  }
  const lines = last.text.split('\n').filter((l) => l && !l.startsWith('#'));
  return {
    ms: summarize(ms),
    bytes: last.bytes,
    series: lines.length,
    podSeries: lines.filter((l) => /pod_id="/.test(l)).length,
    samples: ms,
  };
}

import { idleWindow, procUsage, startDaemon } from './daemon.mjs';
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
  // Enough scrapes that a p95 is not two preemptions by outside load (the machine may be shared).
  const scrapes = ctx.quick ? 10 : 200;
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
      const sc = out.scrape[target];
      ctx.log(`  /metrics at ${target} pods: p50 ${sc.ms.median.toFixed(2)} ms, p95 ${sc.ms.p95.toFixed(2)} ms, daemon CPU ${sc.daemonCpuMsPerScrape.toFixed(2)} ms/scrape, ${sc.bytes} bytes`);
    }
    return out;
  } finally {
    await d.stop();
  }
}

/**
 * `n` sequential scrapes, 50 ms apart. Besides wall times (which a loaded machine inflates by
 * preempting the daemon), the daemon's own CPU time over the series per scrape: it includes
 * the background work of those seconds (collector passes), but not other processes' load.
 */
async function scrapeSeries(d, n) {
  const ms = [];
  let last;
  let cpu0;
  for (let i = 0; i < n + 2; i++) {
    if (i === 2) cpu0 = procUsage(d.pid).cpuSeconds;
    const [r, t] = await timed(() => d.req('GET', '/metrics'));
    if (r.status !== 200) throw new Error(`/metrics -> ${r.status}`);
    if (i >= 2) ms.push(t); // two warm-up scrapes (JIT, first serialisation)
    last = r;
    await sleep(50);
  }
  const cpuMsPerScrape = ((procUsage(d.pid).cpuSeconds - cpu0) * 1000) / n;
  const lines = last.text.split('\n').filter((l) => l && !l.startsWith('#'));
  return {
    ms: summarize(ms),
    daemonCpuMsPerScrape: cpuMsPerScrape,
    bytes: last.bytes,
    series: lines.length,
    podSeries: lines.filter((l) => /pod_id="/.test(l)).length,
    samples: ms,
  };
}

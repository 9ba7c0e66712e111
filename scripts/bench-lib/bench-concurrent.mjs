import { startDaemon } from './daemon.mjs';
import { rawCreate, rawDelete } from './engine.mjs';
import { createBody, shortId } from './fixtures.mjs';
import { median, msSince, now, pool, summarize, timed } from './stats.mjs';

/**
 * 2. Concurrent creates: rounds of `perRound` creates with `c` in flight, pinacled and raw
 * dockerode interleaved round by round (A B A B). Throughput = creates / round wall time;
 * latency = each create's own time. Pods are deleted between rounds (untimed).
 */
export async function benchConcurrent(ctx) {
  const rounds = ctx.quick ? 1 : 3;
  const d = await startDaemon({ name: 'pinacled-concurrent' });
  const out = { rounds, levels: {} };
  try {
    for (const c of [4, 8]) {
      const perRound = ctx.quick ? c : c * 3;
      const s = { pinacled: { tput: [], lat: [] }, raw: { tput: [], lat: [] } };
      const sides = {
        pinacled: {
          create: async () => {
            const [pod, ms] = await timed(() => d.createPod(createBody(`k${c}-${shortId()}`)));
            return { pod, ms };
          },
          remove: (x) => d.deletePod(x.pod.id),
        },
        raw: {
          create: async () => {
            const r = await rawCreate();
            return { pod: r, ms: r.ms };
          },
          remove: (x) => rawDelete(x.pod),
        },
      };
      for (let r = 0; r < rounds; r++) {
        for (const side of ['pinacled', 'raw']) {
          const t0 = now();
          const made = await pool(perRound, c, () => sides[side].create());
          const wall = msSince(t0);
          s[side].tput.push(perRound / (wall / 1000));
          s[side].lat.push(...made.map((m) => m.ms));
          await pool(made.length, c, (i) => sides[side].remove(made[i]));
        }
        ctx.progress(r + 1, rounds, `c=${c}`);
      }
      out.levels[c] = {
        perRound,
        pinacled: { throughputPerS: median(s.pinacled.tput), throughputSamples: s.pinacled.tput, latency: summarize(s.pinacled.lat) },
        raw: { throughputPerS: median(s.raw.tput), throughputSamples: s.raw.tput, latency: summarize(s.raw.lat) },
      };
    }
    return out;
  } finally {
    await d.stop();
  }
}

import { containerMemory, containerPids, engineNofileLimit, rawCreate, rawDelete } from './engine.mjs';
import { pool, sleep, summarize } from './stats.mjs';

/**
 * 7. The sandbox's own cost, for operators (not a pinacled target): the same raw pod under
 * runsc and runc (pinacled's create body for each runtime), create+start latency interleaved,
 * and the idle memory and host pids of a few pods of each after they settle (cgroup files).
 */
export async function benchSandbox(ctx) {
  const runs = ctx.quick ? 3 : 20;
  const idlePods = ctx.quick ? 2 : 5;
  // runc cannot raise RLIMIT_NOFILE above the engine's own hard limit (runsc emulates it), so
  // where that is below pinacled's 65536 the runc pods get the engine's limit instead.
  const limit = await engineNofileLimit();
  const runcNofile = limit !== null && limit < 65536 ? limit : undefined;
  if (runcNofile) ctx.log(`  runc pods get nofile ${runcNofile} (the engine's hard limit) instead of pinacled's 65536`);
  const opts = (runtime) => ({ runtime, nofile: runtime === 'runc' ? runcNofile : undefined });
  const lat = { runsc: [], runc: [] };
  for (let i = 0; i < runs; i++) {
    for (const runtime of ['runsc', 'runc']) {
      const p = await rawCreate(opts(runtime));
      lat[runtime].push(p.ms);
      await rawDelete(p);
    }
    ctx.progress(i + 1, runs);
  }
  const mem = {};
  for (const runtime of ['runsc', 'runc']) {
    const pods = await pool(idlePods, 2, () => rawCreate(opts(runtime)));
    await sleep(5000);
    const readings = pods.map((p) => ({ ...containerMemory(p.id), pids: containerPids(p.id) }));
    await pool(pods.length, 4, (i) => rawDelete(pods[i]));
    mem[runtime] = {
      pods: idlePods,
      usageBytes: summarize(readings.map((r) => r.usage)),
      workingSetBytes: summarize(readings.map((r) => r.workingSet)),
      hostPids: summarize(readings.map((r) => r.pids)),
    };
  }
  return { runs, runcNofile: runcNofile ?? null, createStart: { runsc: summarize(lat.runsc), runc: summarize(lat.runc) }, idle: mem };
}

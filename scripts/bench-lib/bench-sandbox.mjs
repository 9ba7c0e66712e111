import { cpuSettledAll, cpuWindow, benchNetwork, devPod, removeDevPod, timedInPod, waitForHttp } from './dev-pods.mjs';
import { containerMemory, containerPids, docker, engineNofileLimit, rawCreate, rawDelete } from './engine.mjs';
import { sandboxRuntimes, templateDefaults } from './runtimes.mjs';
import { pool, sleep, summarize } from './stats.mjs';
import { VITE_COMMAND, VITE_FILES, VITE_PORT, prepareVite } from './vite-project.mjs';
import { wrk } from './wrk.mjs';

/** The syscall-heavy jobs and Node's startup, run in a pinacled/base pod (timed by bash inside). */
export const JOBS = {
  dd: 'dd if=/dev/zero of=/dev/null bs=1 count=200000',
  find: 'find /usr',
  node: 'node -e 0',
};
/** busybox httpd in the test image, serving one small file; exits at once on SIGTERM. */
const HTTPD = ['sh', '-c', "mkdir -p /tmp/www && echo ok > /tmp/www/index.html && { httpd -f -p 8080 -h /tmp/www & trap 'exit 0' TERM; wait; }"];
const BASE_IDLE = { entrypoint: ['/usr/bin/tini', '-g', '--'], cmd: ['sleep', 'infinity'], noHealthcheck: true };

/**
 * 7. The sandbox's own cost, for operators (not a pinacled target): every runsc runtime the host
 * registered (runsc.json: each build, platform and network stack) and runc, side by side in one
 * run. Every measurement interleaves the runtimes (round by round, the order rotated each
 * round), or measures them over the same window, so outside load on the shared machine hits
 * all alike; figures are medians. Measured: create+start of pinacled's raw pod, the idle
 * memory and host pids of a few of them (cgroup files), syscall-heavy jobs and Node's startup
 * in a base pod, HTTP requests/s from busybox httpd, and the idle CPU of a `nextjs` pod's
 * `next dev`, of a `base` pod's code-server and of a Vite dev server once their CPU has settled (cgroup cpuacct).
 */
export async function benchSandbox(ctx) {
  const q = ctx.quick;
  const n = { runs: q ? 3 : 20, idlePods: q ? 2 : 5, jobRounds: q ? 1 : 3, nodeRuns: q ? 3 : 10, httpRounds: q ? 1 : 3, httpSeconds: q ? 3 : 5, idleWindowS: q ? 20 : 60 };
  const { runtimes, legacy, missing, state } = await sandboxRuntimes();
  const names = runtimes.map((r) => r.name);
  const order = (i) => names.map((_, k) => names[(k + i) % names.length]);
  ctx.log(`  runtimes: ${runtimes.map((r) => `${r.name} (${r.label})`).join(', ')}; 2022 reference: ${legacy ?? 'none (one build only)'}`);
  if (missing.length) ctx.log(`  in runsc.json but not registered with the engine, left out: ${missing.join(', ')}`);
  // runc cannot raise RLIMIT_NOFILE above the engine's own hard limit (runsc emulates it), so
  // where that is below pinacled's 65536 the runc pods get the engine's limit instead.
  const limit = await engineNofileLimit();
  const runcNofile = limit !== null && limit < 65536 ? limit : undefined;
  if (runcNofile) ctx.log(`  runc pods get nofile ${runcNofile} (the engine's hard limit) instead of pinacled's 65536`);
  const opts = (runtime, extra = {}) => ({ runtime, nofile: runtime === 'runc' ? runcNofile : undefined, ...extra });
  const perRuntime = (f) => Object.fromEntries(names.map((rt) => [rt, f(rt)]));
  const errors = {};
  const phase = async (name, fn) => {
    ctx.log(`  ${name}`);
    try {
      return await fn();
    } catch (err) {
      errors[name] = err instanceof Error ? err.message : String(err);
      ctx.log(`  ${name} FAILED: ${err instanceof Error ? err.stack : err}`);
      return null;
    }
  };

  const createStart = await phase('create+start', async () => {
    const lat = perRuntime(() => []);
    for (let i = 0; i < n.runs; i++) {
      for (const rt of order(i)) {
        const p = await rawCreate(opts(rt));
        lat[rt].push(p.ms);
        await rawDelete(p);
      }
      ctx.progress(i + 1, n.runs, 'create+start');
    }
    return perRuntime((rt) => summarize(lat[rt]));
  });

  const idle = await phase('idle memory and host pids', async () => {
    const pods = [];
    try {
      for (let k = 0; k < n.idlePods; k++) for (const rt of order(k)) pods.push(await rawCreate(opts(rt)));
      await sleep(5000);
      const readings = pods.map((p, i) => ({ rt: order(Math.floor(i / names.length))[i % names.length], ...containerMemory(p.id), pids: containerPids(p.id) }));
      return perRuntime((rt) => {
        const r = readings.filter((x) => x.rt === rt);
        return { pods: r.length, usageBytes: summarize(r.map((x) => x.usage)), workingSetBytes: summarize(r.map((x) => x.workingSet)), hostPids: summarize(r.map((x) => x.pids)) };
      });
    } finally {
      await pool(pods.length, 4, (i) => rawDelete(pods[i]));
    }
  });

  const net = await benchNetwork();
  try {
    const jobs = await phase('syscall-heavy jobs and node startup (pinacled/base)', async () => {
      const pods = {};
      try {
        for (const rt of names) pods[rt] = await devPod({ runtime: rt, image: 'pinacled/base', network: net.name, ...BASE_IDLE });
        // One untimed pass each: the first walk of /usr and the first node start fill caches.
        for (const rt of names) for (const job of ['find', 'node']) await timedInPod(pods[rt].id, JOBS[job]);
        const t = { dd: perRuntime(() => []), find: perRuntime(() => []), node: perRuntime(() => []) };
        for (let i = 0; i < n.jobRounds; i++) {
          for (const rt of order(i)) for (const job of ['dd', 'find']) t[job][rt].push(await timedInPod(pods[rt].id, JOBS[job]));
          ctx.progress(i + 1, n.jobRounds, 'dd + find rounds');
        }
        for (let i = 0; i < n.nodeRuns; i++) for (const rt of order(i)) t.node[rt].push(await timedInPod(pods[rt].id, JOBS.node));
        return Object.fromEntries(Object.entries(t).map(([job, v]) => [job, perRuntime((rt) => summarize(v[rt]))]));
      } finally {
        await Promise.all(Object.values(pods).map(removeDevPod));
      }
    });

    const http = await phase('HTTP requests/s (busybox httpd, wrk on 127.0.0.1)', async () => {
      const pods = {};
      try {
        for (const rt of names) pods[rt] = await rawCreate(opts(rt, { command: HTTPD }));
        for (const rt of names) await waitForHttp(pods[rt].hostPort, '/', (s) => s === 200, 30_000);
        const rounds = perRuntime(() => []);
        const failed = {};
        // A pod that stops serving (its sandbox died, say) is reported with its state; the others go on.
        const load = async (rt, seconds) => {
          if (failed[rt]) return;
          try {
            const r = await wrk(`http://127.0.0.1:${pods[rt].hostPort}/`, { seconds });
            if (seconds === n.httpSeconds) rounds[rt].push(r);
          } catch (err) {
            const st = await docker.getContainer(pods[rt].id).inspect().then((i) => i.State, () => null);
            failed[rt] = `${err.message.split('\n').slice(1).join(' ').trim() || err.message} (container ${st ? `${st.Status}, exit ${st.ExitCode}${st.OOMKilled ? ', OOM-killed' : ''}` : 'gone'})`;
            ctx.log(`  ${rt}: httpd stopped answering: ${failed[rt]}`);
          }
        };
        for (const rt of names) await load(rt, 1);
        for (let i = 0; i < n.httpRounds; i++) {
          for (const rt of order(i)) await load(rt, n.httpSeconds);
          ctx.progress(i + 1, n.httpRounds, 'wrk rounds');
        }
        return perRuntime((rt) => ({
          rps: summarize(rounds[rt].map((r) => r.rps)),
          p99Ms: summarize(rounds[rt].map((r) => r.p99)),
          errors: rounds[rt].reduce((a, r) => a + r.non2xx + r.socketErrors, 0),
          ...(failed[rt] ? { failed: failed[rt] } : {}),
        }));
      } finally {
        await Promise.all(Object.values(pods).map((p) => rawDelete(p, 2)));
      }
    });

    const devIdle = await phase(`idle CPU of next dev, code-server and Vite (${n.idleWindowS} s after settling)`, () => benchDevIdle(ctx, names, net.name, n.idleWindowS));
    return {
      runs: n.runs,
      counts: n,
      runcNofile: runcNofile ?? null,
      runtimes,
      legacy,
      templateDefaults: await templateDefaults(state),
      jobCommands: JOBS,
      createStart,
      idle,
      jobs,
      http,
      devIdle,
      ...(Object.keys(errors).length ? { errors } : {}),
    };
  } finally {
    await net.remove();
  }
}

/**
 * Idle CPU of a `nextjs` pod (code-server + `next dev`, started as test/images/images.test.ts
 * starts it), of a `base` pod (code-server alone) and of a Vite dev server over VITE_FILES source files (pinacled/base, the project
 * copied onto /workspace), one of each per runtime, all running at once: each must answer, then
 * settle (cpuSettled), then every pod is measured over the same window.
 */
async function benchDevIdle(ctx, names, network, windowS) {
  const vite = await prepareVite();
  if (vite.skipped) ctx.log(`  Vite skipped: ${vite.skipped}`);
  const pods = [];
  try {
    for (const rt of names) {
      pods.push({ kind: 'nextjs', rt, started: Date.now(), pod: await devPod({ runtime: rt, image: 'pinacled/nextjs', network, ports: [3000, 8080] }) });
      pods.push({ kind: 'base', rt, started: Date.now(), pod: await devPod({ runtime: rt, image: 'pinacled/base', network, ports: [8080] }) });
      if (!vite.skipped) pods.push({ kind: 'vite', rt, started: Date.now(), pod: await devPod({ runtime: rt, image: 'pinacled/base', network, ports: [VITE_PORT], entrypoint: ['/usr/bin/tini', '-g', '--'], cmd: VITE_COMMAND, archive: vite.dir, noHealthcheck: true }) });
    }
    const answered = await Promise.allSettled(
      pods.map(async (p) => {
        if (p.kind === 'nextjs') {
          p.firstAnswerMs = await waitForHttp(p.pod.hostPort(3000), '/', (s) => s === 200, 600_000, p.started);
          await waitForHttp(p.pod.hostPort(8080), '/', (s) => s === 200 || s === 302, 120_000);
        } else if (p.kind === 'base') {
          p.firstAnswerMs = await waitForHttp(p.pod.hostPort(8080), '/', (s) => s === 200 || s === 302, 300_000, p.started);
        } else {
          p.firstAnswerMs = await waitForHttp(p.pod.hostPort(VITE_PORT), '/', (s) => s === 200, 300_000, p.started);
          await waitForHttp(p.pod.hostPort(VITE_PORT), '/src/main.js', (s) => s === 200, 60_000);
        }
      }),
    );
    answered.forEach((a, i) => {
      if (a.status === 'rejected') pods[i].error = a.reason.message;
    });
    const live = pods.filter((p) => !p.error);
    ctx.log(`  ${live.length} of ${pods.length} dev servers answered; waiting for their CPU to settle`);
    const settle = await cpuSettledAll(live.map((p) => p.pod.id), 300_000);
    const cpu = await cpuWindow(live.map((p) => p.pod.id), windowS * 1000);
    for (const [i, p] of live.entries()) {
      Object.assign(p, { cpuPercent: Number(cpu[i].meanPercent.toFixed(3)), sliceMedianPercent: Number(cpu[i].sliceMedianPercent.toFixed(3)), slices: cpu[i].slices, settled: settle[i].settled, settleWindows: settle[i].windows });
    }
    const of = (kind) =>
      Object.fromEntries(
        pods.filter((p) => p.kind === kind).map((p) => [p.rt, { cpuPercent: p.cpuPercent ?? null, sliceMedianPercent: p.sliceMedianPercent ?? null, slices: p.slices ?? [], settled: p.settled ?? false, settleWindows: p.settleWindows ?? [], firstAnswerMs: p.firstAnswerMs ?? null, ...(p.error ? { error: p.error } : {}) }]),
      );
    return { windowS, side: 'all pods at once', nextjs: of('nextjs'), base: of('base'), vite: vite.skipped ? { skipped: vite.skipped } : { version: vite.version, files: VITE_FILES, runtimes: of('vite') } };
  } finally {
    await Promise.all(pods.map((p) => removeDevPod(p.pod)));
  }
}

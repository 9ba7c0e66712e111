/**
 * pinacled benchmark suite: pinacled vs raw Docker (and a bare Fastify route), in one run, on
 * one machine. Prints a table, writes a JSON file, never fails on a missed target (exit 0 unless
 * a measurement itself broke). Entry: ../bench (which sets the host up first).
 */
import { writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { benchConcurrent } from './bench-concurrent.mjs';
import { benchCreate } from './bench-create.mjs';
import { benchLogs } from './bench-logs.mjs';
import { benchReads } from './bench-reads.mjs';
import { benchSandbox } from './bench-sandbox.mjs';
import { benchScale } from './bench-scale.mjs';
import { killLiveDaemons, profiling, startDaemon } from './daemon.mjs';
import { cleanupBench } from './engine.mjs';
import { probeBaseline } from './fairness.mjs';
import { ROOT, createBody, shortId } from './fixtures.mjs';
import { closeAgent } from './http.mjs';
import { acquireLock } from './lock.mjs';
import { describeMachine, loadNow } from './machine.mjs';
import { NOTES, TARGET_HEAD, evaluateTargets, measurementRows, resultsMarkdown, sandboxMarkdown, sandboxTable, targetRows, textTable } from './report.mjs';

const SECTIONS = {
  create: benchCreate,
  concurrent: benchConcurrent,
  reads: benchReads,
  scale: benchScale,
  logs: benchLogs,
  sandbox: benchSandbox,
};
const ALIASES = { metrics: 'scale', idle: 'scale', lifecycle: 'create', runtimes: 'sandbox' };

const USAGE = `usage: scripts/bench [--quick] [--only NAME[,NAME...]] [--out FILE] [--profile DIR]
  --quick   a few runs of each (smoke check, minutes); default: >= 20 runs (about 10-15 minutes)
  --only    sections: ${Object.keys(SECTIONS).join(', ')} (aliases: ${Object.entries(ALIASES).map(([a, b]) => `${a}=${b}`).join(', ')})
  --out     JSON results file (default /tmp/pinacled-bench-<date>.json; never inside the repo)
  --profile run every daemon under node --cpu-prof, profiles in DIR; top functions/modules are
            printed and stored in the JSON (profiling slows the daemon: ratios are not comparable)`;

function parseArgs(argv) {
  const o = { quick: false, only: Object.keys(SECTIONS), out: null, profile: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--only' || a === '--out' || a === '--profile') {
      const v = argv[++i];
      if (!v) throw new Error(`${a} needs a value`);
      if (a === '--out') o.out = v;
      else if (a === '--profile') o.profile = resolve(v);
      else {
        o.only = [...new Set(v.split(',').map((n) => ALIASES[n] ?? n))];
        const bad = o.only.filter((n) => !SECTIONS[n]);
        if (bad.length) throw new Error(`unknown section ${bad.join(', ')}`);
      }
    } else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  o.out = resolve(o.out ?? `/tmp/pinacled-bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  if (!isAbsolute(o.out) || o.out.startsWith(`${ROOT}/`)) throw new Error(`--out must be outside the repository (${ROOT})`);
  return o;
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${err.message}\n${USAGE}`);
    process.exit(64);
  }
  if (opts.profile) profiling.profileDir = opts.profile;
  let releaseLock;
  try {
    releaseLock = acquireLock();
  } catch (err) {
    console.error(`bench: ${err.message}`);
    process.exit(75); // EX_TEMPFAIL
  }
  process.once('exit', releaseLock);
  const startedAt = new Date();
  const log = (m) => console.log(m);
  const progress = (i, n, label = '') => {
    if (process.stderr.isTTY) process.stderr.write(`\r  ${label} ${i}/${n}${i === n ? '\n' : ''}`);
  };
  const machine = await describeMachine();
  log(`pinacled bench${opts.quick ? ' (quick)' : ''}: ${machine.cpus} x ${machine.cpuModel}, kernel ${machine.kernel}, Docker ${machine.docker.version}, ${machine.runsc}`);
  log(`load average ${machine.load.loadavg1}, ${machine.otherContainersRunning} containers running; sections: ${opts.only.join(', ')}`);
  const removed = await cleanupBench();
  if (removed.containers + removed.volumes + removed.networks) log(`removed leftovers of an earlier run: ${JSON.stringify(removed)}`);

  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    log('\ninterrupted: cleaning up');
    killLiveDaemons();
    void cleanupBench().finally(() => process.exit(130));
  });

  const sections = {};
  const timing = {};
  const load = {};
  let fairness;
  try {
    // How pinacled makes a pod right now (network mode), and proof the baseline matches it.
    const probe = await startDaemon({ name: 'pinacled-probe' });
    try {
      fairness = await probeBaseline(probe, createBody(`probe-${shortId()}`));
    } finally {
      await probe.stop();
    }
    const diffs = fairness.differences;
    log(`baseline: ${diffs.length ? `DIFFERS from pinacled's pods in ${diffs.map((x) => x.field).join(', ')}` : "identical options to pinacled's pods"}` + ` (per-pod network: ${fairness.perPodNetwork ? 'yes' : 'no'})`);
    for (const name of opts.only) {
      if (interrupted) break;
      load[name] = loadNow();
      log(`== ${name} (load ${load[name].loadavg1})`);
      const t0 = Date.now();
      try {
        sections[name] = await SECTIONS[name]({ quick: opts.quick, log, progress });
      } catch (err) {
        sections[name] = { error: err instanceof Error ? err.message : String(err) };
        log(`  ${name} FAILED: ${err instanceof Error ? err.stack : err}`);
        killLiveDaemons();
      }
      timing[name] = Math.round((Date.now() - t0) / 1000);
      await cleanupBench();
    }
  } finally {
    killLiveDaemons();
    await cleanupBench();
    closeAgent();
  }

  const results = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    durationS: Math.round((Date.now() - startedAt.getTime()) / 1000),
    quick: opts.quick,
    sectionsRun: opts.only,
    machine,
    loadAtSectionStart: load,
    loadAtEnd: loadNow(),
    sectionSeconds: timing,
    fairness,
    notes: NOTES,
    sections,
  };
  if (opts.profile) results.profiles = profiling.profiles;
  results.targets = evaluateTargets(sections);
  const rows = measurementRows(sections);
  log(`\n${textTable(rows)}\n\n${textTable(targetRows(results.targets), TARGET_HEAD)}`);
  const sbt = sandboxTable(sections.sandbox);
  if (sbt) {
    log(`\nsandbox runtimes, side by side (medians):\n${textTable(sbt.rows, sbt.head)}\n\nratios (x runc / x 2022 build):\n${textTable(sbt.ratioRows, sbt.head)}`);
    log(`\nas markdown:\n${sandboxMarkdown(sections.sandbox)}`);
  }
  for (const p of profiling.profiles) {
    log(`\nprofile of ${p.daemon} (busy ${p.busyPercentOfWall}% of wall time; ${p.file}):`);
    log(textTable(p.modules.slice(0, 8).map((m) => [m.name, `${m.percent}%`]), ['module (self time)', 'share']));
    log(textTable(p.functions.slice(0, 12).map((m) => [m.name, `${m.percent}%`]), ['function (self time)', 'share']));
  }
  writeFileSync(opts.out, `${JSON.stringify(results, null, 2)}\n`);
  log(`\nresults: ${opts.out}`);
  // RESULTS.md holds the latest *full* run only: smoke runs would mislead the README.
  if (!opts.quick && !opts.profile && opts.only.length === Object.keys(SECTIONS).length) {
    writeFileSync(join(ROOT, 'scripts', 'bench-lib', 'RESULTS.md'), resultsMarkdown(results));
    log('table written to scripts/bench-lib/RESULTS.md');
  }
  const failed = Object.values(sections).some((s) => s?.error);
  process.exit(failed ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  killLiveDaemons();
  void cleanupBench().finally(() => process.exit(1));
});

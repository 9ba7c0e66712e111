import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { promisify } from 'node:util';
import { docker } from './engine.mjs';
import { ROOT } from './fixtures.mjs';
import { RUNSC_STATE } from './runtimes.mjs';

const run = promisify(execFile);
const sh = (cmd, args, opts = {}) =>
  run(cmd, args, { timeout: 10_000, ...opts })
    .then((r) => r.stdout.trim())
    .catch(() => null);

/** What the numbers were measured on: hardware, kernel, engine, runtime, code, and the load. */
export async function describeMachine() {
  const info = await docker.info();
  const version = await docker.version();
  const osRelease = readFileSync('/etc/os-release', 'utf8');
  const dirty = await sh('git', ['status', '--porcelain'], { cwd: ROOT });
  return {
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    memoryBytes: os.totalmem(),
    kernel: os.release(),
    os: /PRETTY_NAME="([^"]+)"/.exec(osRelease)?.[1] ?? 'unknown',
    node: process.version,
    docker: { version: version.Version, apiVersion: version.ApiVersion, storageDriver: info.Driver, cgroupDriver: info.CgroupDriver, cgroupVersion: info.CgroupVersion, runtimes: info.Runtimes, defaultRuntime: info.DefaultRuntime },
    // The build registered as `runsc` (the host setup may register one that is not on PATH).
    runsc: registeredRunsc() ?? (await sh('runsc', ['--version']))?.split('\n')[0] ?? null,
    wrk: (await sh('sh', ['-c', 'wrk --version 2>&1 | head -n 1'])) ?? null,
    git: { commit: await sh('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }), uncommittedFiles: dirty === null ? null : dirty.split('\n').filter(Boolean).length },
    load: loadNow(),
    otherContainersRunning: info.ContainersRunning,
  };
}

function registeredRunsc() {
  try {
    const s = JSON.parse(readFileSync(RUNSC_STATE, 'utf8'));
    return s.version ? `${s.version} (${s.platform ?? '?'}, ${s.network ?? '?'})` : null;
  } catch {
    return null;
  }
}

/** Load average and running containers right now: the noise a shared machine adds. */
export function loadNow() {
  const [one, five, fifteen] = os.loadavg();
  return { loadavg1: Number(one.toFixed(2)), loadavg5: Number(five.toFixed(2)), loadavg15: Number(fifteen.toFixed(2)) };
}

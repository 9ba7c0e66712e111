import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const IMAGE = 'pinacled/testbox:1';
/** Every container/volume the raw baseline makes carries this; cleanup selects by it. */
export const BENCH_LABEL = 'dev.pinacle.bench';
/** Bench daemons get a store id with this prefix, so their pods' objects are found by label. */
export const BENCH_STORE_PREFIX = 'bench-';
/** An idle pod that exits at once on SIGTERM (a trapped `wait`), so stops do not wait out the grace period. */
export const POD_COMMAND = ['sh', '-c', "trap 'exit 0' TERM; sleep 1000000 & wait"];
export const POD_PORT = 8080;
/** The custom template's resources (pods/templates.ts), which a create without `resources` gets. */
export const CUSTOM_RESOURCES = { cpuCores: 1, memoryMb: 1024, pidsLimit: 256 };
export const LOG_OPTS = { logMaxSize: '10m', logMaxFile: 3 };

/**
 * The built daemon: the repo's dist/ (npm run build), or the private build `scripts/bench
 * --private-build` makes outside the tree (PINACLED_BENCH_DIST), so a run on a shared
 * checkout never rewrites the dist/ other people's tests are using.
 */
export const DIST = process.env.PINACLED_BENCH_DIST ? resolve(process.env.PINACLED_BENCH_DIST) : resolve(ROOT, 'dist');

/** One of the daemon's own modules: the baseline uses pinacled's pure builders. */
export async function dist(path) {
  return import(pathToFileURL(resolve(DIST, path)).href);
}

export const shortId = () => randomBytes(5).toString('hex');

/** The POST /v1/pods body every pinacled create in the suite sends. */
export function createBody(name, command = POD_COMMAND) {
  return { name, template: 'custom', image: IMAGE, command, ports: [{ containerPort: POD_PORT }], labels: { bench: 'true' } };
}

/**
 * The Pod the daemon's service would record for createBody(): same image, command, resources,
 * runtime, labels and one published port, so the pure builder yields the same create body.
 */
export function podFor({ id, name, runtime = 'runsc', hostPort, command = POD_COMMAND, containerName, volumeName, state = 'creating' }) {
  const now = new Date().toISOString();
  return {
    id,
    name,
    template: 'custom',
    image: IMAGE,
    command,
    state,
    runtime,
    sandboxed: runtime === 'runsc',
    resources: { ...CUSTOM_RESOURCES },
    ports: hostPort ? [{ name: null, containerPort: POD_PORT, hostPort, hostIp: '127.0.0.1' }] : [],
    env: {},
    labels: { bench: 'true' },
    containerName,
    volumeName,
    containerId: null,
    createdAt: now,
    updatedAt: now,
    startedAt: null,
    finishedAt: null,
    exitCode: null,
    oomKilled: false,
    error: null,
  };
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import type { Test } from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { createDaemon, type Daemon } from '../../src/daemon.js';
import { FakeRuntime } from './fakes/fake-runtime.js';
import type { ContainerRuntime } from '../../src/runtime/container-runtime.js';

export const TEST_TOKEN = 'test-token-0123456789abcdef';
export const OPENAPI_PATH = resolve(import.meta.dirname, '..', '..', 'openapi.yaml');
export const auth = { authorization: `Bearer ${TEST_TOKEN}` };

export interface TestDaemon extends Daemon {
  runtime: FakeRuntime;
  dataDir: string;
}

/**
 * A daemon on the fake runtime, in a temp data dir, torn down with the test.
 * `env` overrides configuration as the environment would.
 */
export async function fakeDaemon(t: Test, env: Record<string, string> = {}, runtime = new FakeRuntime()): Promise<TestDaemon> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pinacled-test-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const d = await fakeDaemonOn(t, dataDir, runtime, env);
  await d.reconciler.runOnce();
  return d;
}

/**
 * A daemon on an existing data dir (a restart: what a crashed or stopped daemon left there),
 * closed with the test. Its first reconcile pass runs on its own, as in production.
 */
export async function fakeDaemonOn(t: Test, dataDir: string, runtime: FakeRuntime, env: Record<string, string> = {}): Promise<TestDaemon> {
  // No rate limit unless a test asks for one: bulk tests send hundreds of creates at once.
  const config = loadConfig({ PINACLED_TOKEN: TEST_TOKEN, PINACLED_DATA_DIR: dataDir, PINACLED_PORT_RANGE: '41000-41999', PINACLED_RATE_LIMIT_PER_MIN: '0', ...env });
  const d = await createDaemon(config, runtime as ContainerRuntime, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), OPENAPI_PATH);
  t.teardown(() => d.close());
  return Object.assign(d, { runtime, dataDir });
}

/** Waits until `fn` returns a truthy value or the deadline passes (then throws). */
export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 5000, stepMs = 25): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as Exclude<T, false | null | undefined | 0 | ''>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

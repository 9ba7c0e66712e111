import { readFileSync } from 'node:fs';
import { docker } from './engine.mjs';
import { dist } from './fixtures.mjs';

/** What the host setup registered (scripts/lib/runsc.sh writes it after probing every build). */
export const RUNSC_STATE = process.env.PINACLED_RUNSC_STATE ?? '/var/lib/pinacled/runsc.json';

/** 20240729 -> '2024-07-29'. */
const buildDate = (b) => (b ? String(b).replace(/^(\d{4})(\d{2})(\d{2})$/, '$1-$2-$3') : '?');

/**
 * The runtimes section 7 compares: every runsc runtime the host setup registered (`registered`
 * and `fallbacks` of runsc.json) that the engine really lists, each with its build date, platform
 * and network stack, then runc. `legacy` names the oldest build's runtime (the 2022 reference of
 * issue 13's targets), or null when the host has one build only.
 */
export async function sandboxRuntimes(file = RUNSC_STATE) {
  const state = JSON.parse(readFileSync(file, 'utf8'));
  const engine = new Set(Object.keys((await docker.info()).Runtimes ?? {}));
  const names = [...new Set([...Object.keys(state.registered ?? {}), ...(state.fallbacks ?? [])])];
  const missing = names.filter((n) => !engine.has(n));
  const runsc = names
    .filter((n) => engine.has(n) && state.registered?.[n])
    .map((name) => {
      const r = state.registered[name];
      return { name, build: r.build, platform: r.platform, network: r.network, label: `${buildDate(r.build)} ${r.platform} ${r.network}` };
    });
  if (!engine.has('runc')) throw new Error('the engine lists no runc runtime');
  const runtimes = [...runsc, { name: 'runc', build: null, platform: 'native', network: 'host kernel', label: 'no sandbox' }];
  const builds = runsc.map((r) => r.build).filter(Boolean);
  const oldest = Math.min(...builds);
  const legacy = builds.length && oldest !== Math.max(...builds) ? runsc.find((r) => r.build === oldest).name : null;
  return { runtimes, legacy, missing, state };
}

/**
 * The runtime pinacled gives each built-in template's pods (test/helpers/sandbox.ts does the
 * same): `runsc-<platform>` of the template's default platform where registered, else `runsc`.
 */
export async function templateDefaults(state) {
  const { builtinTemplates } = await dist('pods/templates.js');
  const out = {};
  for (const [name, t] of Object.entries(builtinTemplates({ imagePrefix: 'pinacled', imageTag: 'latest' }))) {
    const rt = t.platform && state.registered?.[`runsc-${t.platform}`] ? `runsc-${t.platform}` : 'runsc';
    out[name] = { platform: t.platform ?? state.registered?.runsc?.platform ?? null, runtime: rt };
  }
  return out;
}

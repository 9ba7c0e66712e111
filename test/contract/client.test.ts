import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
import t, { type Test } from 'tap';
import { parse as parseYaml } from 'yaml';
import { OPENAPI_PATH } from '../helpers/app.js';

/*
 * A client generated from openapi.yaml (openapi-typescript, as a control plane would) compiles
 * against test/contract/client/sample.ts with `tsc --noEmit`: it lists pods, creates them,
 * pages events passing `next` as `after` and switches on a PodError code, with no cast. A
 * document that regresses (a string cursor, a string limit, if/then/else, a bare string code)
 * fails to compile at the sample line that says so.
 */

type Obj = Record<string, any>;
const ROOT = resolve(import.meta.dirname, '..', '..');
const SAMPLE = join(import.meta.dirname, 'client', 'sample.ts');
const doc = parseYaml(readFileSync(OPENAPI_PATH, 'utf8')) as Obj;

/** Generates the client types from `spec` next to a copy of the sample and type-checks both. */
async function compileSample(t: Test, spec: Obj): Promise<{ status: number | null; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'pinacled-client-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'api.d.ts'), astToString(await openapiTS(structuredClone(spec) as Parameters<typeof openapiTS>[0])));
  writeFileSync(join(dir, 'sample.ts'), readFileSync(SAMPLE));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2023'],
        strict: true,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        noEmit: true,
        typeRoots: [join(ROOT, 'node_modules', '@types')],
        types: ['node'],
      },
      files: ['sample.ts', 'api.d.ts'],
    }),
  );
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** The sample's line (1-based) that carries `regress: <what>`. */
function markedLine(what: string): number {
  const i = readFileSync(SAMPLE, 'utf8').split('\n').findIndex((l) => l.includes(`regress: ${what})`) || l.endsWith(`regress: ${what}`));
  if (i < 0) throw new Error(`sample.ts has no line marked "regress: ${what}"`);
  return i + 1;
}

/** openapi.yaml as it was before issue 18: what a generator could not make precise. */
function regressed(): Obj {
  const d = structuredClone(doc);
  const p = d.components.parameters;
  p.EventsAfter.schema = { type: 'string', pattern: '^[0-9]{1,15}$' };
  p.EventsLimit.schema = { type: 'string', pattern: '^[0-9]{1,4}$' };
  const listPods = d.paths['/v1/pods'].get.parameters.find((x: Obj) => x.name === 'limit');
  listPods.schema = { type: 'string', pattern: '^[0-9]{1,4}$' };
  const s = d.components.schemas;
  const fields = s.PodRequestFields.properties as Obj;
  const image = s.CreateCustomPodRequest.properties.image as Obj;
  s.CreatePodRequest = {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'template'],
    properties: { ...fields, template: { $ref: '#/components/schemas/TemplateName' }, image },
    if: { required: ['template'], properties: { template: { const: 'custom' } } },
    then: { required: ['image'] },
    else: { not: { required: ['image'] } },
  };
  s.PodError.properties.code = { type: 'string' };
  return d;
}

t.test('a client generated from openapi.yaml compiles against the sample program', async (t) => {
  const { status, output } = await compileSample(t, doc);
  t.equal(status, 0, 'tsc --noEmit passes', { output });
  t.equal(output.trim(), '', 'with no diagnostics');
});

t.test('the sample fails to compile where the document regresses', async (t) => {
  const { status, output } = await compileSample(t, regressed());
  t.not(status, 0, 'tsc refuses the sample against the old document');
  for (const what of ['pods limit', 'events limit', 'events cursor', 'template with image', 'custom without image', 'pod error code']) {
    t.match(output, `sample.ts(${markedLine(what)},`, `${what}: an error at its line`);
  }
});

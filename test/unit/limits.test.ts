import { readFileSync } from 'node:fs';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { execSchema } from '../../src/access/schemas.js';
import { stopQuery } from '../../src/api/schemas.js';
import { waitQuery } from '../../src/api/queries.js';
import { loadConfig } from '../../src/config/load.js';
import { inFlightTimeoutMs, MAX_OPERATION_S } from '../../src/limits.js';
import { OPENAPI_PATH } from '../helpers/app.js';

const token = 'a-valid-token-of-some-length';

t.test('with the defaults, a running request outlives the longest operation the API accepts', async (t) => {
  const c = loadConfig({ PINACLED_TOKEN: token });
  const inFlight = inFlightTimeoutMs(c.engineTimeoutMs);
  // A stop's own engine deadline is its grace period plus the engine timeout (docker-runtime.ts).
  const longestStop = MAX_OPERATION_S * 1000 + c.engineTimeoutMs;
  t.ok(inFlight > longestStop, `in flight ${inFlight} ms > the longest stop ${longestStop} ms`);
  t.ok(inFlight - MAX_OPERATION_S * 1000 >= 120_000, 'a margin of at least a create under load (two minutes)');
  t.ok(inFlight > c.connectionTimeoutMs, 'longer than the idle socket timeout (130 s), which cut them before');
  t.ok(inFlight > c.stopTimeoutS * 1000 && inFlight > c.access.execTimeoutS * 1000, 'the default grace period and exec deadline fit');
  const slowEngine = 120_000;
  t.ok(inFlightTimeoutMs(slowEngine) >= MAX_OPERATION_S * 1000 + 10 * slowEngine, 'the margin grows with a slower engine deadline');
});

t.test('every wait a request can ask for is capped by MAX_OPERATION_S', async (t) => {
  t.ok(stopQuery.safeParse({ timeout: String(MAX_OPERATION_S) }).success);
  t.notOk(stopQuery.safeParse({ timeout: String(MAX_OPERATION_S + 1) }).success, '?timeout= of stop/restart/delete');
  t.ok(execSchema.safeParse({ command: ['true'], timeoutS: MAX_OPERATION_S }).success);
  t.notOk(execSchema.safeParse({ command: ['true'], timeoutS: MAX_OPERATION_S + 1 }).success, "exec's timeoutS");
  t.notOk(waitQuery.safeParse({ state: 'running', timeout: String(MAX_OPERATION_S + 1) }).success, "wait's timeout");
  for (const v of ['PINACLED_STOP_TIMEOUT_S', 'PINACLED_EXEC_TIMEOUT_S']) {
    t.ok(loadConfig({ PINACLED_TOKEN: token, [v]: String(MAX_OPERATION_S) }));
    t.throws(() => loadConfig({ PINACLED_TOKEN: token, [v]: String(MAX_OPERATION_S + 1) }), { message: new RegExp(v) }, v);
  }
  const doc = parseYaml(readFileSync(OPENAPI_PATH, 'utf8'));
  t.equal(doc.components.parameters.StopTimeout.schema.maximum, MAX_OPERATION_S, 'openapi.yaml StopTimeout');
  t.equal(doc.components.schemas.ExecRequest.properties.timeoutS.maximum, MAX_OPERATION_S, 'openapi.yaml ExecRequest.timeoutS');
});

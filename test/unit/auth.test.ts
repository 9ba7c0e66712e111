import type { FastifyRequest } from 'fastify';
import t from 'tap';
import { callerKey, TokenChecker } from '../../src/api/auth.js';

const req = (headers: Record<string, string>) => ({ headers }) as unknown as FastifyRequest;
const a = 'token-a-0123456789abcdef';
const b = 'token-b-with-another-length-0123456789';

t.test('several tokens are accepted (rotation), anything else is not', async (t) => {
  const c = new TokenChecker([a, b]);
  t.ok(c.matches(a));
  t.ok(c.matches(b));
  for (const wrong of [undefined, '', 'x', a.slice(0, -1), `${a}x`, a.toUpperCase(), ` ${a}`, 'x'.repeat(a.length), 'x'.repeat(10_000), `${a}\0`]) {
    t.notOk(c.matches(wrong), `rejects ${JSON.stringify(wrong?.slice(0, 30))}`);
  }
  t.notOk(new TokenChecker([]).matches(a), 'no configured token: nothing matches');
});

t.test('candidates are compared as fixed-length digests (no length leak, no early exit)', async (t) => {
  // timingSafeEqual throws on unequal lengths: a checker that compared raw strings would throw
  // here, or would have to exit early on the length. Digests make every comparison 32 bytes.
  const c = new TokenChecker([a]);
  t.doesNotThrow(() => c.matches('short'));
  t.doesNotThrow(() => c.matches('l'.repeat(1_000_000)));
  t.notOk(c.matches('l'.repeat(1_000_000)));
});

t.test('Authorization: Bearer, case-insensitive scheme; WebSocket subprotocol bearer.<token>', async (t) => {
  t.equal(TokenChecker.fromRequest(req({ authorization: `Bearer ${a}` })), a);
  t.equal(TokenChecker.fromRequest(req({ authorization: `bearer ${a}` })), a);
  t.equal(TokenChecker.fromRequest(req({ authorization: `Basic ${a}` })), undefined);
  t.equal(TokenChecker.fromRequest(req({ authorization: a })), undefined);
  t.equal(TokenChecker.fromRequest(req({ 'sec-websocket-protocol': `json, bearer.${a}` })), a);
  t.equal(TokenChecker.fromRequest(req({})), undefined);
});

t.test('callerKey is the token digest, never the token', async (t) => {
  const k = callerKey(req({ authorization: `Bearer ${a}` }))!;
  t.match(k, /^[0-9a-f]{64}$/);
  t.not(k.includes(a), true);
  t.not(k, callerKey(req({ authorization: `Bearer ${b}` })));
  t.equal(callerKey(req({})), undefined);
});

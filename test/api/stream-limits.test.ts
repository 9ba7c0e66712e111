import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { auth, eventually, fakeDaemon } from '../helpers/app.js';
import { connect } from '../helpers/ws.js';

const A = 'stream-token-a-0123456789abcdef';
const B = 'stream-token-b-0123456789abcdef';

t.test('open WebSocket streams are limited per token and in all; a closed stream frees its slot', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pinacled-streams-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'tokens'), `${A}\n${B}\n`);
  chmodSync(join(dir, 'tokens'), 0o600);
  const d = await fakeDaemon(t, { PINACLED_TOKEN_FILE: join(dir, 'tokens'), PINACLED_WS_MAX_STREAMS_PER_TOKEN: '2', PINACLED_WS_MAX_STREAMS: '3' });
  const base = (await d.app.listen({ host: '127.0.0.1', port: 0 })).replace(/^http/, 'ws');
  const open = (token: string) => connect(`${base}/v1/events/stream`, { protocols: ['pinacled.v1', `bearer.${token}`] });
  const refusal = (token: string) => open(token).then(
    (c) => {
      c.ws.close();
      return { status: 101, body: '' };
    },
    (e: { status: number; body: string }) => e,
  );

  const a1 = await open(A);
  const a2 = await open(A);
  const a3 = await refusal(A);
  t.equal(a3.status, 429, "a token's third stream is refused");
  t.equal(JSON.parse(a3.body).code, 'PINACLED_ERR_TOO_MANY_STREAMS');
  t.match(JSON.parse(a3.body).detail, /PINACLED_WS_MAX_STREAMS_PER_TOKEN/);

  const b1 = await open(B);
  t.ok(b1, 'another token still opens one');
  const b2 = await refusal(B);
  t.equal(b2.status, 429, 'the daemon holds its total: refused');
  t.match(JSON.parse(b2.body).detail, /PINACLED_WS_MAX_STREAMS\)/);

  a1.ws.close();
  await a1.closed;
  // The slot comes back when the connection's socket closes on the server side too.
  await eventually(async () => (await refusal(B)).status === 101, 5_000, 10);
  t.pass('a closed stream gives its slot back');

  // A refused upgrade holds no slot: plain requests and the remaining streams are unaffected.
  t.equal((await d.app.inject({ method: 'GET', url: '/v1/pods', headers: auth })).statusCode, 200);
  a2.ws.close();
  b1.ws.close();
  await Promise.all([a2.closed, b1.closed]);
});

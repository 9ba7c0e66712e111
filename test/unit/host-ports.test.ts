import { createServer, type Server } from 'node:net';
import t from 'tap';
import { listeningPorts } from '../../src/pods/host-ports.js';

const listen = (host: string) =>
  new Promise<Server & { port: number }>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => resolve(Object.assign(s, { port: (s.address() as { port: number }).port })));
  });
const close = (s: Server) => new Promise((r) => s.close(r));

t.test('sees IPv4 and IPv6 listeners, and not connected or closed sockets', async (t) => {
  const v4 = await listen('127.0.0.1');
  const v6 = await listen('::1').catch(() => undefined);
  const busy = await listeningPorts();
  t.ok(busy.has(v4.port), `127.0.0.1:${v4.port} is listed`);
  if (v6) t.ok(busy.has(v6.port), `[::1]:${v6.port} is listed`);
  else t.comment('no IPv6 loopback here');
  await close(v4);
  if (v6) await close(v6);
  const after = await listeningPorts();
  t.notOk(after.has(v4.port), 'a closed listener is not');
  for (const p of after) t.ok(Number.isInteger(p) && p > 0 && p < 65536, `port ${p} is a port`);
});

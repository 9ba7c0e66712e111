/**
 * The baseline for the read benchmarks: a bare Fastify 5 app (the daemon's own fastify from
 * node_modules, no logger, no hooks) in its own process, like the daemon. Routes:
 *   GET /v1/pods/:id  the JSON of one pod, recorded from the daemon (same bytes to serialise)
 *   GET /hello        {"hello":"world"}
 * argv[2]: a file holding the pod JSON. Prints the port on stdout once listening.
 */
import Fastify from 'fastify';
import { readFileSync } from 'node:fs';

const pod = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const app = Fastify({ logger: false });
app.get('/v1/pods/:id', async () => pod);
app.get('/hello', async () => ({ hello: 'world' }));
const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${new URL(address).port}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));

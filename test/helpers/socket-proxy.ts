import { connect, createServer, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';

/**
 * A unix-socket proxy in front of the Docker socket. Closing it makes the engine unreachable
 * for a daemon pointed at it (DOCKER_HOST=unix://<path>) without stopping the shared dockerd.
 */
export class SocketProxy {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  constructor(readonly path: string, readonly target = '/var/run/docker.sock') {}

  async open(): Promise<void> {
    rmSync(this.path, { force: true });
    this.#server = createServer((client) => {
      const upstream = connect(this.target);
      this.#sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const done = () => {
        client.destroy();
        upstream.destroy();
        this.#sockets.delete(client);
        this.#sockets.delete(upstream);
      };
      client.on('error', done).on('close', done);
      upstream.on('error', done).on('close', done);
    });
    await new Promise<void>((r) => this.#server!.listen(this.path, r));
  }

  /** Stops listening and cuts every open connection (as a dying engine would). */
  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    await new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()));
    this.#server = undefined;
    rmSync(this.path, { force: true });
  }
}

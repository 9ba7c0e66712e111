import { PassThrough, type Duplex } from 'node:stream';
import { FrameDemuxer, STREAM_STDERR } from '../logs/demux.js';
import { mapError, status } from './docker-errors.js';
import { ContainerNotRunningError, EngineUnavailableError } from './errors.js';
import type { ExecOptions, ExecSession } from './container-runtime.js';

/**
 * The engine's exec API (create, start hijacked, resize, inspect), typed structurally so that
 * dockerode stays imported by docker-runtime.ts alone.
 */
interface EngineExec {
  id: string;
  start(o: { hijack: boolean; stdin: boolean; Tty: boolean; Detach: boolean }): Promise<Duplex>;
  resize(o: { h: number; w: number }): Promise<unknown>;
  inspect(): Promise<{ ExitCode: number | null; Running: boolean }>;
}
interface EngineContainers {
  getContainer(id: string): { exec(o: Record<string, unknown>): Promise<EngineExec> };
  getExec(id: string): EngineExec;
}

export interface ExecEngines {
  /** With the unary deadline (create, resize, inspect). */
  unary: EngineContainers;
  /** Without a socket timeout: the hijacked stream lives as long as the process. */
  long: EngineContainers;
  timeoutMs: number;
}

/** After the output ended, the engine may still report the exec running for a moment. */
const EXIT_POLL_MS = 20;
const EXIT_POLL_TRIES = 100;

export async function startExec(e: ExecEngines, id: string, o: ExecOptions): Promise<ExecSession | undefined> {
  const body: Record<string, unknown> = {
    Cmd: o.cmd,
    AttachStdin: o.stdin,
    AttachStdout: true,
    AttachStderr: true,
    Tty: o.tty,
    Env: Object.entries(o.env ?? {}).map(([k, v]) => `${k}=${v}`),
  };
  if (o.user) body.User = o.user;
  if (o.workdir) body.WorkingDir = o.workdir;
  let created: EngineExec;
  let unaryExec: EngineExec;
  try {
    unaryExec = await e.unary.getContainer(id).exec(body);
    // The same exec through the client without a socket timeout, for the hijacked stream.
    created = e.long.getExec(unaryExec.id);
  } catch (err) {
    if (status(err) === 404) return undefined;
    if (status(err) === 409) throw new ContainerNotRunningError(id);
    throw mapError('exec create', err);
  }
  let socket: Duplex;
  let timer: NodeJS.Timeout | undefined;
  try {
    const starting = created.start({ hijack: true, stdin: o.stdin, Tty: o.tty, Detach: false });
    socket = await Promise.race([
      starting,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          starting.then((s) => s.destroy()).catch(() => undefined);
          reject(new EngineUnavailableError(`exec start: no answer within ${e.timeoutMs} ms`));
        }, e.timeoutMs);
      }),
    ]);
  } catch (err) {
    if (err instanceof EngineUnavailableError) throw err;
    if (status(err) === 409) throw new ContainerNotRunningError(id);
    throw mapError('exec start', err);
  } finally {
    clearTimeout(timer);
  }
  return new DockerExecSession(socket, unaryExec, o);
}

class DockerExecSession implements ExecSession {
  readonly stdin: NodeJS.WritableStream | null;
  readonly stdout: NodeJS.ReadableStream;
  readonly stderr: NodeJS.ReadableStream;
  readonly #socket: Duplex;
  readonly #exec: EngineExec;
  readonly #ended: Promise<void>;

  constructor(socket: Duplex, exec: EngineExec, o: ExecOptions) {
    this.#socket = socket;
    this.#exec = exec;
    this.stdin = o.stdin ? socket : null;
    if (o.tty) {
      this.stdout = socket;
      const err = new PassThrough();
      err.end();
      this.stderr = err;
    } else {
      const out = new PassThrough();
      const err = new PassThrough();
      const demux = new FrameDemuxer();
      socket.on('data', (chunk: Buffer) => {
        try {
          demux.push(chunk, (stream, data) => {
            const target = stream === STREAM_STDERR ? err : out;
            // Backpressure: a full reader pauses the engine socket until it drains.
            if (!target.write(data)) {
              socket.pause();
              target.once('drain', () => socket.resume());
            }
          });
        } catch (e) {
          socket.destroy(e as Error);
        }
      });
      const end = () => {
        out.end();
        err.end();
      };
      socket.on('end', end);
      socket.on('close', end);
      this.stdout = out;
      this.stderr = err;
    }
    this.#ended = new Promise((resolve) => {
      socket.on('close', () => resolve());
      socket.on('end', () => resolve());
      socket.on('error', () => resolve());
    });
  }

  async resize(cols: number, rows: number): Promise<void> {
    try {
      await this.#exec.resize({ h: rows, w: cols });
    } catch (err) {
      // The process ended meanwhile: nothing to resize.
      if (status(err) === 404 || status(err) === 409 || status(err) === 500) return;
      throw mapError('exec resize', err);
    }
  }

  async wait(): Promise<number | null> {
    await this.#ended;
    for (let i = 0; i < EXIT_POLL_TRIES; i++) {
      let r: { ExitCode: number | null; Running: boolean };
      try {
        r = await this.#exec.inspect();
      } catch (err) {
        if (status(err) === 404) return null;
        throw mapError('exec inspect', err);
      }
      if (!r.Running) return r.ExitCode;
      await new Promise((res) => setTimeout(res, EXIT_POLL_MS));
    }
    return null;
  }

  close(): void {
    this.#socket.destroy();
  }
}

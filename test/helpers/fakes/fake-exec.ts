import { PassThrough } from 'node:stream';
import type { ExecOptions, ExecSession } from '../../../src/runtime/container-runtime.js';

/** What a test sees of one exec the fake ran. */
export interface FakeExecRecord {
  containerId: string;
  /** The command line as the engine got it (wrapper included). */
  cmd: string[];
  /** The user's part of it (after pinacled's wrapper). */
  command: string[];
  opts: ExecOptions;
  running: boolean;
  exitCode: number | null;
  /** Sizes it was resized to. */
  sizes: { cols: number; rows: number }[];
}

/** A fake process: writes to `out`/`err`, reads `input`, calls `exit(code)` once. */
export type FakeProgram = (p: { argv: string[]; input: PassThrough; out: PassThrough; err: PassThrough; exit: (code: number) => void; record: FakeExecRecord }) => void;

/**
 * Programs the fake knows: echo, cat, true, false, sleep N, fill N (N bytes of `x` to stdout and
 * of `y` to stderr), sh (a PTY-like echo of its input, for terminal tests). Tests add their own
 * in `programs`. The wrapper's kill (`pinacled-kill PIDFILE`) ends the exec with that pid file.
 */
export class FakeExecs {
  readonly records: FakeExecRecord[] = [];
  readonly programs = new Map<string, FakeProgram>(Object.entries(BUILTIN));
  readonly #byPidFile = new Map<string, (code: number) => void>();

  start(containerId: string, o: ExecOptions): ExecSession {
    const wrapped = o.cmd[3] === 'pinacled-exec';
    const command = wrapped ? o.cmd.slice(7) : o.cmd;
    const record: FakeExecRecord = { containerId, cmd: o.cmd, command, opts: o, running: true, exitCode: null, sizes: [] };
    this.records.push(record);
    const input = new PassThrough();
    const out = new PassThrough();
    const err = new PassThrough();
    let exited: (code: number | null) => void = () => undefined;
    const done = new Promise<number | null>((r) => (exited = r));
    const exit = (code: number) => {
      if (!record.running) return;
      record.running = false;
      record.exitCode = code;
      out.end();
      err.end();
      exited(code);
    };
    if (wrapped) this.#byPidFile.set(o.cmd[4]!, exit);
    if (o.cmd[3] === 'pinacled-kill') {
      this.#byPidFile.get(o.cmd[4]!)?.(137);
      setImmediate(() => exit(0));
    } else {
      const program = this.programs.get(command[0] ?? '') ?? notFound;
      setImmediate(() => program({ argv: command, input, out, err, exit, record }));
    }
    return {
      stdin: o.stdin ? input : null,
      stdout: out,
      stderr: err,
      resize: async (cols, rows) => void record.sizes.push({ cols, rows }),
      wait: () => done,
      close: () => {
        input.destroy();
        out.destroy();
        err.destroy();
        exited(null);
      },
    };
  }

  /** Execs still running. */
  get running(): FakeExecRecord[] {
    return this.records.filter((r) => r.running);
  }
}

const notFound: FakeProgram = ({ argv, err, exit }) => {
  err.write(`${argv[0]}: not found\n`);
  exit(127);
};

const BUILTIN: Record<string, FakeProgram> = {
  true: ({ exit }) => exit(0),
  false: ({ exit }) => exit(1),
  echo: ({ argv, out, exit }) => {
    out.write(`${argv.slice(1).join(' ')}\n`);
    exit(0);
  },
  cat: ({ input, out, exit }) => {
    input.on('data', (b: Buffer) => out.write(b));
    input.on('end', () => exit(0));
  },
  sleep: ({ argv, exit }) => {
    setTimeout(() => exit(0), Number(argv[1] ?? 0) * 1000).unref();
  },
  fill: ({ argv, out, err, exit }) => {
    const n = Number(argv[1] ?? 0);
    const chunk = 64 * 1024;
    for (let i = 0; i < n; i += chunk) {
      out.write(Buffer.alloc(Math.min(chunk, n - i), 'x'));
      err.write(Buffer.alloc(Math.min(chunk, n - i), 'y'));
    }
    exit(0);
  },
  sh: ({ input, out, exit }) => {
    input.on('data', (b: Buffer) => out.write(b));
    input.on('end', () => exit(0));
  },
};
BUILTIN['/bin/sh'] = BUILTIN.sh!;

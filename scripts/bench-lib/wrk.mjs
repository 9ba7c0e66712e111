import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

const UNIT_MS = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function toMs(v) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v);
  return m ? Number(m[1]) * UNIT_MS[m[2]] : null;
}

/** Parses wrk --latency output: requests/s, latency percentiles (ms), errors. */
export function parseWrk(out) {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const pct = {};
  for (const m of out.matchAll(/^\s+(50|75|90|99)%\s+([\d.]+(?:us|ms|s|m))\s*$/gm)) pct[`p${m[1]}`] = toMs(m[2]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return { rps, requests, ...pct, non2xx, socketErrors };
}

/**
 * One bounded wrk run against a loopback URL: 1 thread (the machine has 2 cores, and the
 * server needs one), `connections` keep-alive connections, `seconds` long.
 */
export async function wrk(url, { connections = 8, seconds = 5, headers = {} } = {}) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '--latency'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  args.push(url);
  const { stdout } = await run('wrk', args, { timeout: (seconds + 30) * 1000, maxBuffer: 1 << 20 });
  const r = parseWrk(stdout);
  if (!Number.isFinite(r.rps)) throw new Error(`wrk output not understood:\n${stdout}`);
  return r;
}

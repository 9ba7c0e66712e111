import WebSocket from 'ws';
import { startDaemon } from './daemon.mjs';
import { docker } from './engine.mjs';
import { createBody, shortId } from './fixtures.mjs';
import { msSince, now, sleep, summarize } from './stats.mjs';

/**
 * 5. Log throughput: one pod prints N lines (alternating stdout and stderr) and exits; then
 * its whole log is read, interleaved A B, through pinacled's WebSocket stream
 * (GET /v1/pods/{id}/logs/stream, one JSON message { ts, stream, line } per line, issue 3) and
 * by dockerode following the same container directly (multiplexed frames demuxed, lines split,
 * each line's timestamp split from its text). The same stored log, and the same engine query
 * (with timestamps: every message of the WebSocket carries `ts`, so the daemon asks the engine
 * for them, and a direct client that wants the same lines must too), so this measures the
 * daemon's path, not the producer.
 */
export async function benchLogs(ctx) {
  const runs = ctx.quick ? 3 : 20;
  const lines = ctx.quick ? 20_000 : 100_000;
  const d = await startDaemon({ name: 'pinacled-logs' });
  try {
    const script = `awk 'BEGIN { for (i = 1; i <= ${lines}; i++) { s = sprintf("%07d the quick brown fox jumps over the lazy dog", i); if (i % 2) print s; else print s > "/dev/stderr" } }'`;
    const pod = await d.createPod(createBody(`logs-${shortId()}`, ['sh', '-c', script]));
    await waitExited(pod.containerId);
    const check = await rawFollow(pod.containerId, lines);
    if (check.lines !== lines) throw new Error(`the engine holds ${check.lines} of ${lines} lines (log rotation?)`);
    const probe = await wsFollow(d, pod.id, lines, 10_000).catch((err) => ({ error: err.message }));
    const pending = probe.error !== undefined;
    if (pending) ctx.log(`  WebSocket log stream not available (${probe.error}): pinacled side PENDING`);
    const s = { pinacled: [], raw: [] };
    for (let i = 0; i < runs; i++) {
      if (!pending) {
        const p = await wsFollow(d, pod.id, lines);
        if (p.lines !== lines) throw new Error(`pinacled delivered ${p.lines} of ${lines} lines`);
        s.pinacled.push(p.lines / (p.ms / 1000));
      }
      const r = await rawFollow(pod.containerId, lines);
      s.raw.push(r.lines / (r.ms / 1000));
      ctx.progress(i + 1, runs);
    }
    return { runs, linesPerRun: lines, pending, pendingReason: pending ? probe.error : undefined, linesPerS: { pinacled: summarize(s.pinacled), raw: summarize(s.raw) } };
  } finally {
    await d.stop();
  }
}

async function waitExited(id) {
  const t0 = Date.now();
  while ((await docker.getContainer(id).inspect()).State.Running) {
    if (Date.now() - t0 > 120_000) throw new Error('the log producer did not finish within 120 s');
    await sleep(200);
  }
}

/**
 * Follows the container's logs with dockerode until `want` lines (or the end); demuxes frames,
 * splits lines, and splits each line into its timestamp and text (what a WebSocket message holds).
 */
async function rawFollow(id, want, deadlineMs = 120_000) {
  const t0 = now();
  const stream = await docker.getContainer(id).logs({ follow: true, stdout: true, stderr: true, timestamps: true });
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const partial = ['', '', ''];
    let count = 0;
    let last = { ts: '', stream: 0, line: '' };
    const timer = setTimeout(() => finish(new Error(`raw follow: ${count} lines after ${deadlineMs} ms`)), deadlineMs);
    const finish = (err) => {
      clearTimeout(timer);
      stream.destroy();
      if (err) reject(err);
      else resolve({ lines: count, ms: msSince(t0), last });
    };
    stream.on('data', (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 8) {
        const size = buf.readUInt32BE(4);
        if (buf.length < 8 + size) break;
        const kind = buf[0];
        const text = partial[kind] + buf.toString('utf8', 8, 8 + size);
        buf = buf.subarray(8 + size);
        const parts = text.split('\n');
        partial[kind] = parts.pop();
        for (const p of parts) {
          const sp = p.indexOf(' ');
          last = { ts: p.slice(0, sp), stream: kind, line: p.slice(sp + 1) };
        }
        count += parts.length;
      }
      if (count >= want) finish();
    });
    stream.on('end', () => finish());
    stream.on('error', (err) => finish(err));
  });
}

/** Reads the pod's log through pinacled's WebSocket until `want` lines, the close, or the deadline. */
export function wsFollow(d, podId, want, deadlineMs = 120_000) {
  const t0 = now();
  const url = `${d.url.replace(/^http/, 'ws')}/v1/pods/${podId}/logs/stream?follow=true`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['pinacled.v1'], { headers: { authorization: `Bearer ${d.token}` } });
    let count = 0;
    let done = false;
    const timer = setTimeout(() => finish(new Error(`WebSocket: ${count} lines after ${deadlineMs} ms`)), deadlineMs);
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ws.terminate();
      if (err) reject(err);
      else resolve({ lines: count, ms: msSince(t0) });
    };
    ws.on('unexpected-response', (_req, res) => finish(new Error(`HTTP ${res.statusCode} instead of a WebSocket upgrade`)));
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (typeof m.line === 'string') count++;
      if (count >= want) finish();
    });
    ws.on('close', (code, reason) => {
      // A normal close after the last line is the end of a stopped pod's log; anything else
      // (a slow-client drop, an error) is reported with its code.
      if (count < want && code !== 1000) finish(new Error(`WebSocket closed with ${code} ${reason} after ${count} lines`));
      else finish();
    });
    ws.on('error', (err) => finish(err));
  });
}

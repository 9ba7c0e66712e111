import WebSocket from 'ws';

export interface WsCapture {
  ws: WebSocket;
  /** Parsed JSON (text) messages, in order. */
  msgs: any[];
  /** Binary messages, in order (exec output: a stream byte, then data). */
  binary: Buffer[];
  /** Resolves once the binary messages so far satisfy `pred` (or rejects after timeoutMs). */
  untilBinary(pred: (frames: Buffer[]) => boolean, timeoutMs?: number): Promise<void>;
  /** Resolves with the close code and reason (1006: the connection dropped without a close frame). */
  closed: Promise<{ code: number; reason: string; at: number }>;
  /** Resolves once a message matching `pred` arrived (or rejects after timeoutMs). */
  until(pred: (m: any) => boolean, timeoutMs?: number): Promise<any>;
}

/** Records everything a client WebSocket receives. */
export function capture(ws: WebSocket): WsCapture {
  const msgs: any[] = [];
  const binary: Buffer[] = [];
  const waiters = new Set<{ pred: (m: any) => boolean; resolve: (m: any) => void }>();
  const binaryWaiters = new Set<{ pred: (f: Buffer[]) => boolean; resolve: () => void }>();
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) {
      binary.push(data);
      for (const w of [...binaryWaiters]) {
        if (w.pred(binary)) {
          binaryWaiters.delete(w);
          w.resolve();
        }
      }
      return;
    }
    const m = JSON.parse(String(data));
    msgs.push(m);
    for (const w of [...waiters]) {
      if (w.pred(m)) {
        waiters.delete(w);
        w.resolve(m);
      }
    }
  });
  const closed = new Promise<{ code: number; reason: string; at: number }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason), at: Date.now() }));
  });
  ws.on('error', () => undefined);
  return {
    ws,
    msgs,
    binary,
    closed,
    untilBinary(pred, timeoutMs = 10_000) {
      if (pred(binary)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        binaryWaiters.add(w);
        setTimeout(() => {
          if (binaryWaiters.delete(w)) reject(new Error(`binary messages did not match within ${timeoutMs} ms (${binary.length} received)`));
        }, timeoutMs).unref();
      });
    },
    until(pred, timeoutMs = 10_000) {
      const hit = msgs.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        waiters.add(w);
        setTimeout(() => {
          if (waiters.delete(w)) reject(new Error(`no matching message within ${timeoutMs} ms (${msgs.length} received)`));
        }, timeoutMs).unref();
      });
    },
  };
}

/** Opens a client WebSocket and waits for the handshake (rejects with the HTTP status on refusal). */
export function connect(url: string, o: { headers?: Record<string, string>; protocols?: string[] } = {}): Promise<WsCapture> {
  const ws = new WebSocket(url, o.protocols ?? [], { headers: o.headers ?? {} });
  const cap = capture(ws);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(cap));
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => {
        // With this listener set, ending the refused request is ours to do.
        req.destroy();
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body }));
      });
    });
    ws.once('error', reject);
  });
}

/** The bytes of one output stream of an exec (1 stdout, 2 stderr) from its binary messages. */
export function execOutput(frames: Buffer[], stream: number): Buffer {
  return Buffer.concat(frames.filter((f) => f[0] === stream).map((f) => f.subarray(1)));
}

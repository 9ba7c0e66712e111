import t from 'tap';
import { frameHeaderBytes, FrameBatch } from '../../src/api/ws-frames.js';

/** A strict reader of server frames (RFC 6455 5.2): FIN, opcode 1 or 2, no mask, minimal lengths. */
function frames(buf: Buffer): { op: number; payload: Buffer }[] {
  const out: { op: number; payload: Buffer }[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf[off] !== 0x81 && buf[off] !== 0x82) throw new Error(`byte ${off}: not a final text or binary frame (${buf[off]})`);
    const op = buf[off]! & 0x0f;
    const b1 = buf[off + 1]!;
    if (b1 & 0x80) throw new Error('masked');
    let n = b1;
    let head = 2;
    if (b1 === 126) {
      n = buf.readUInt16BE(off + 2);
      head = 4;
      if (n < 126) throw new Error('length not minimal');
    } else if (b1 === 127) {
      n = buf.readUInt32BE(off + 2) * 2 ** 32 + buf.readUInt32BE(off + 6);
      head = 10;
      if (n < 65536) throw new Error('length not minimal');
    }
    if (off + head + n > buf.length) throw new Error('frame runs past the buffer');
    out.push({ op, payload: buf.subarray(off + head, off + head + n) });
    off += head + n;
  }
  return out;
}

/** Text frames only, decoded. */
function decode(buf: Buffer): string[] {
  return frames(buf).map((f) => {
    if (f.op !== 1) throw new Error(`not a text frame (opcode ${f.op})`);
    return f.payload.toString('utf8');
  });
}

t.test('header sizes follow the payload length', async (t) => {
  t.equal(frameHeaderBytes(0), 2);
  t.equal(frameHeaderBytes(125), 2);
  t.equal(frameHeaderBytes(126), 4);
  t.equal(frameHeaderBytes(65535), 4);
  t.equal(frameHeaderBytes(65536), 10);
});

t.test('a batch of N messages is N frames, in order, byte-exact', async (t) => {
  const texts = [
    '',
    'a',
    'x'.repeat(125),
    'x'.repeat(126),
    'é'.repeat(63), // 126 bytes, 63 characters
    'y'.repeat(65535),
    'z'.repeat(65536),
    'w'.repeat(70_000),
    JSON.stringify({ line: 'tab\tnul\u0000 quote" backslash\\ lone \ud800 surrogate 😀 done' }),
  ];
  for (let i = 0; i < 1000; i++) texts.push(`{"n":${i}}`);
  const b = new FrameBatch();
  for (const s of texts) b.add(s);
  t.equal(b.size, texts.length);
  const expected = texts.reduce((n, s) => n + frameHeaderBytes(Buffer.byteLength(s)) + Buffer.byteLength(s), 0);
  t.equal(b.bytes, expected);
  const wire = b.take();
  t.equal(wire.length, expected);
  t.same(decode(wire), texts);
  // Each payload is what ws.send(text) would have sent: the text's UTF-8 bytes.
  t.equal(b.size, 0);
  t.equal(b.bytes, 0);
});

t.test('ASCII and other messages in any order keep their order and bytes', async (t) => {
  const kinds = ['ascii', 'ü'.repeat(40_000), 'ü', '😀', '\u007f', 'q'.repeat(126), 'é'.repeat(70)];
  const b = new FrameBatch();
  const texts: string[] = [];
  for (let i = 0; i < 300; i++) {
    const s = `${kinds[(i * 7) % kinds.length]}${i % 3 ? '' : i}`;
    texts.push(s);
    b.add(s);
  }
  const wire = b.take();
  t.equal(wire.length, texts.reduce((n, s) => n + frameHeaderBytes(Buffer.byteLength(s)) + Buffer.byteLength(s), 0));
  t.same(decode(wire), texts);
});

t.test('addAscii() and add() interleaved: one sequence of frames, in order', async (t) => {
  const b = new FrameBatch();
  const texts: string[] = [];
  const ascii = ['', 'a', 'x'.repeat(125), 'x'.repeat(126), 'y'.repeat(65535), 'z'.repeat(65536), '{"ts":"2026","line":"l"}'];
  const other = ['é', 'ü'.repeat(40_000), '😀 and text'];
  for (let i = 0; i < 200; i++) {
    if (i % 5 === 4) {
      const s = other[i % other.length]!;
      b.add(s);
      texts.push(s);
    } else {
      const s = `${ascii[i % ascii.length]}${i}`;
      b.addAscii(s);
      texts.push(s);
    }
    if (i === 100) t.equal(b.size, 101);
  }
  const expected = texts.reduce((n, s) => n + frameHeaderBytes(Buffer.byteLength(s)) + Buffer.byteLength(s), 0);
  t.equal(b.bytes, expected);
  const wire = b.take();
  t.equal(wire.length, expected);
  t.same(decode(wire), texts);
  b.addAscii('after');
  t.same(decode(b.take()), ['after']);
});

t.test('take() empties the batch; clear() drops it', async (t) => {
  const b = new FrameBatch();
  b.add('one');
  t.same(decode(b.take()), ['one']);
  b.add('two');
  b.add('three');
  t.same(decode(b.take()), ['two', 'three']);
  b.add('dropped');
  b.addAscii('dropped too');
  b.clear();
  t.equal(b.size, 0);
  t.equal(b.take().length, 0);
});

t.test('binary frames (with and without a prefix byte) interleave with text frames, byte-exact', async (t) => {
  const b = new FrameBatch();
  const sizes = [0, 1, 124, 125, 126, 65534, 65535, 65536, 200_000];
  const want: { op: number; payload: Buffer }[] = [];
  for (const [i, n] of sizes.entries()) {
    const data = Buffer.alloc(n, i + 1);
    b.addBinary(data, (i % 2) + 1);
    want.push({ op: 2, payload: Buffer.concat([Buffer.from([(i % 2) + 1]), data]) });
    b.addAscii(`a${i}`);
    want.push({ op: 1, payload: Buffer.from(`a${i}`) });
    b.add(`é${i}`);
    want.push({ op: 1, payload: Buffer.from(`é${i}`) });
    b.addBinary(data);
    want.push({ op: 2, payload: data });
  }
  t.equal(b.size, want.length);
  const expected = want.reduce((n, f) => n + frameHeaderBytes(f.payload.length) + f.payload.length, 0);
  t.equal(b.bytes, expected);
  const got = frames(b.take());
  t.equal(got.length, want.length);
  for (const [i, f] of want.entries()) {
    t.equal(got[i]!.op, f.op, `frame ${i} opcode`);
    t.ok(got[i]!.payload.equals(f.payload), `frame ${i} payload (${f.payload.length} bytes)`);
  }
});

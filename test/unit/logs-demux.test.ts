import t from 'tap';
import { DemuxError, encodeFrame, FrameDemuxer } from '../../src/logs/demux.js';

function collect(chunks: Buffer[]) {
  const d = new FrameDemuxer();
  const out: { stream: number; data: string; start: boolean }[] = [];
  for (const c of chunks) d.push(c, (stream, data, start) => out.push({ stream, data: data.toString('latin1'), start }));
  return { out, incomplete: d.incomplete };
}

/** Splits a buffer at the given offsets. */
function splitAt(b: Buffer, cuts: number[]): Buffer[] {
  const parts: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts, b.length]) {
    parts.push(b.subarray(prev, c));
    prev = c;
  }
  return parts;
}

t.test('frames are demultiplexed whole', async (t) => {
  const wire = Buffer.concat([encodeFrame(1, 'out\n'), encodeFrame(2, 'err\n'), encodeFrame(1, '')]);
  const { out, incomplete } = collect([wire]);
  t.same(out, [
    { stream: 1, data: 'out\n', start: true },
    { stream: 2, data: 'err\n', start: true },
  ]);
  t.equal(incomplete, false);
});

t.test('every split point, inside headers and payloads, gives the same bytes per stream', async (t) => {
  const wire = Buffer.concat([encodeFrame(1, 'hello\n'), encodeFrame(2, 'world, long payload\n'), encodeFrame(1, 'x')]);
  for (let a = 0; a <= wire.length; a++) {
    for (let b = a; b <= wire.length; b += 3) {
      const { out, incomplete } = collect(splitAt(wire, [a, b]));
      const by = (s: number) => out.filter((o) => o.stream === s).map((o) => o.data).join('');
      if (by(1) !== 'hello\nx' || by(2) !== 'world, long payload\n' || incomplete) {
        t.fail(`split at ${a},${b}: ${JSON.stringify(out)}`);
        return;
      }
      // frameStart is set exactly once per frame
      if (out.filter((o) => o.start).length !== 3) return t.fail(`frame starts at ${a},${b}`);
    }
  }
  t.pass('all splits agree');
});

t.test('a stream cut inside a frame is reported incomplete', async (t) => {
  const wire = encodeFrame(1, 'abcdef');
  t.equal(collect([wire.subarray(0, 5)]).incomplete, true, 'inside the header');
  t.equal(collect([wire.subarray(0, 10)]).incomplete, true, 'inside the payload');
});

t.test('a malformed header is an error, not garbage lines', async (t) => {
  const d = new FrameDemuxer();
  t.throws(() => d.push(Buffer.from('2024-01-01T00:00:00Z hello\n'), () => undefined), DemuxError);
  // The same header arriving in pieces.
  const split = new FrameDemuxer();
  split.push(Buffer.from('202'), () => undefined);
  t.throws(() => split.push(Buffer.from('4-01-01T00:00:00Z hello\n'), () => undefined), DemuxError);
});

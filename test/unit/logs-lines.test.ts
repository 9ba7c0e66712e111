import t from 'tap';
import { encodeFrame } from '../../src/logs/demux.js';
import { LogParser, TRUNCATION_MARKER } from '../../src/logs/lines.js';
import type { LogLine } from '../../src/logs/types.js';

const TS1 = '2026-01-02T03:04:05.123456789Z';
const TS2 = '2026-01-02T03:04:05.2Z';

function parse(chunks: Buffer[], o: { tty?: boolean; max?: number } = {}): LogLine[] {
  const lines: LogLine[] = [];
  const p = new LogParser({ tty: o.tty ?? false, maxLineBytes: o.max ?? 1024, onLine: (l) => lines.push(l) });
  for (const c of chunks) p.write(c);
  p.end();
  return lines;
}

/** Every chunking of `wire` into pieces of `size` bytes. */
function chunked(wire: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < wire.length; i += size) out.push(wire.subarray(i, i + size));
  return out;
}

t.test('lines with timestamps, both streams', async (t) => {
  const wire = Buffer.concat([encodeFrame(1, `${TS1} one\n`), encodeFrame(2, `${TS2} two\n`)]);
  t.same(parse([wire]), [
    { ts: TS1, stream: 'stdout', line: 'one' },
    { ts: TS2, stream: 'stderr', line: 'two' },
  ]);
});

t.test('multi-byte UTF-8 split across chunks at every byte is reassembled', async (t) => {
  const text = 'héllo wörld ✓ 😀 end';
  const wire = Buffer.concat([encodeFrame(1, `${TS1} ${text}\n`), encodeFrame(2, `${TS2} ${text}\n`)]);
  for (let size = 1; size <= 9; size++) {
    const got = parse(chunked(wire, size));
    t.same(got.map((l) => l.line), [text, text], `chunks of ${size} bytes`);
    t.same(got.map((l) => l.ts), [TS1, TS2]);
  }
});

t.test("a line the engine split into 16 KiB messages is one line with the first message's timestamp", async (t) => {
  const wire = Buffer.concat([encodeFrame(1, `${TS1} aaaa`), encodeFrame(2, `${TS2} other\n`), encodeFrame(1, `${TS2} bbbb\n`)]);
  t.same(parse(chunked(wire, 5)), [
    { ts: TS2, stream: 'stderr', line: 'other' },
    { ts: TS1, stream: 'stdout', line: 'aaaabbbb' },
  ]);
});

t.test('a long line is cut at the limit with the marker, the rest dropped', async (t) => {
  const long = 'x'.repeat(50);
  const wire = Buffer.concat([encodeFrame(1, `${TS1} ${long}\n`), encodeFrame(1, `${TS2} next\n`)]);
  const got = parse(chunked(wire, 7), { max: 20 });
  t.same(got, [
    { ts: TS1, stream: 'stdout', line: `${'x'.repeat(20)}${TRUNCATION_MARKER}`, truncated: true },
    { ts: TS2, stream: 'stdout', line: 'next' },
  ]);
});

t.test('the cut never splits a character', async (t) => {
  // 'é' is 2 bytes: with a 5-byte limit, "aaaé" (5 bytes) fits and "aaaaé" must cut before é.
  t.equal(parse([encodeFrame(1, `${TS1} aaaébb\n`)], { max: 5 })[0]!.line, `aaaé${TRUNCATION_MARKER}`);
  t.equal(parse([encodeFrame(1, `${TS1} aaaaébb\n`)], { max: 5 })[0]!.line, `aaaa${TRUNCATION_MARKER}`);
  t.equal(parse([encodeFrame(1, `${TS1} 😀😀\n`)], { max: 6 })[0]!.line, `😀${TRUNCATION_MARKER}`);
});

t.test('a cut line spanning several engine messages drops all of its rest', async (t) => {
  const wire = Buffer.concat([encodeFrame(1, `${TS1} ${'a'.repeat(30)}`), encodeFrame(1, `${TS2} ${'b'.repeat(30)}`), encodeFrame(1, `${TS2} c\n`), encodeFrame(1, `${TS2} d\n`)]);
  const got = parse([wire], { max: 10 });
  t.same(got.map((l) => l.line), [`${'a'.repeat(10)}${TRUNCATION_MARKER}`, 'd']);
});

t.test('TTY: one raw stream, a timestamp after every newline, \\r\\n handled', async (t) => {
  const wire = Buffer.from(`${TS1} one\r\n${TS2} twö\r\n${TS2} last`);
  for (let size = 1; size <= 4; size++) {
    t.same(parse(chunked(wire, size), { tty: true }), [
      { ts: TS1, stream: 'stdout', line: 'one' },
      { ts: TS2, stream: 'stdout', line: 'twö' },
      { ts: TS2, stream: 'stdout', line: 'last' },
    ]);
  }
});

t.test('an unterminated last line is still delivered at the end', async (t) => {
  t.same(parse([encodeFrame(2, `${TS1} no newline`)]), [{ ts: TS1, stream: 'stderr', line: 'no newline' }]);
});

t.test('empty lines are lines', async (t) => {
  t.same(parse([encodeFrame(1, `${TS1} \n`), encodeFrame(1, `${TS2} \n`)]).map((l) => l.line), ['', '']);
});

t.test('engine errors in the stream (frame type 3) are reported, not printed as lines', async (t) => {
  const errors: string[] = [];
  const lines: LogLine[] = [];
  const p = new LogParser({ tty: false, maxLineBytes: 100, onLine: (l) => lines.push(l), onEngineError: (m) => errors.push(m) });
  p.write(Buffer.concat([encodeFrame(3, 'boom'), encodeFrame(1, `${TS1} ok\n`)]));
  t.same(errors, ['boom']);
  t.same(lines.map((l) => l.line), ['ok']);
});

t.test('whole lines in one piece (the fast path) parse exactly as the same bytes split anywhere', async (t) => {
  // A seeded generator: the same cases every run.
  let seed = 42;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 16) % n;
  };
  const alphabet = ['a', 'b', ' ', 'é', '😀', '\r', '\t', '\u0000', '"', '\\', 'x'.repeat(30)];
  const text = () => Array.from({ length: rnd(8) }, () => alphabet[rnd(alphabet.length)]).join('');
  for (let round = 0; round < 200; round++) {
    const tty = round % 4 === 3;
    const max = [8, 16, 64, 1024][rnd(4)]!;
    const pieces: Buffer[] = [];
    for (let i = 0, n = 1 + rnd(6); i < n; i++) {
      const ts = [TS1, TS2, 'x'.repeat(45)][rnd(3)];
      // Some messages end without a newline: the engine's split of a long line.
      const body = `${ts} ${text()}${rnd(4) ? '\n' : ''}`;
      pieces.push(tty ? Buffer.from(body.endsWith('\n') ? `${body.slice(0, -1)}\r\n` : body) : encodeFrame(1 + rnd(2), body));
    }
    const wire = Buffer.concat(pieces);
    const whole = parse([wire], { tty, max });
    for (const size of [1, 2, 3, 7]) {
      t.same(parse(chunked(wire, size), { tty, max }), whole, `round ${round}, chunks of ${size}`);
    }
    t.same(parse(pieces, { tty, max }), whole, `round ${round}, one piece per message`);
  }
});

import t from 'tap';
import { lineJson } from '../../src/logs/sinks.js';
import type { LogLine } from '../../src/logs/types.js';

t.test('lineJson is JSON.stringify of the line, character for character, and knows when it is ASCII', async (t) => {
  const texts = ['', 'plain', 'quote " backslash \\ slash /', 'é😀✓', '\u2028\u2029', '\ud800 lone high', 'lone low \udfff', '\udfff\ud800 reversed pair', '\x7f del'];
  // Every code unit below 0x100 and every surrogate edge, alone and inside text.
  for (let c = 0; c < 0x100; c++) texts.push(String.fromCharCode(c), `a${String.fromCharCode(c)}b`);
  for (const c of [0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xfffe, 0xffff]) texts.push(String.fromCharCode(c), `x${String.fromCharCode(c)}`);
  const lines: LogLine[] = [];
  for (const line of texts) {
    lines.push({ ts: '2026-01-02T03:04:05.123456789Z', stream: 'stdout', line });
    lines.push({ ts: line, stream: 'stderr', line: 'plain' });
    lines.push({ ts: line, stream: 'stderr', line: `${line}…[truncated]`, truncated: true });
  }
  let same = 0;
  let ascii = 0;
  for (const l of lines) {
    const j = lineJson(l);
    if (j.text === JSON.stringify(l)) same++;
    else t.fail(`differs for ${JSON.stringify(l)}: ${j.text}`);
    // The flag may only be set when it is true (it may be conservatively unset).
    if (j.ascii) {
      ascii++;
      if (!/^[\x00-\x7f]*$/.test(j.text)) t.fail(`not ASCII: ${JSON.stringify(l)}`);
    }
  }
  t.equal(same, lines.length);
  t.ok(ascii > 100, `${ascii} ASCII lines framed without an encoder`);
  t.ok(lineJson({ ts: '2026-01-02T03:04:05.123456789Z', stream: 'stdout', line: 'a plain line' }).ascii);
  t.same(JSON.parse(lineJson(lines[2]!).text), lines[2]);
});

t.test('one line handed to several followers is serialized once; the next line is its own', async (t) => {
  const a: LogLine = { ts: 't1', stream: 'stdout', line: 'a' };
  const b: LogLine = { ts: 't2', stream: 'stderr', line: 'b' };
  const first = lineJson(a);
  t.equal(lineJson(a), first);
  t.equal(lineJson(b).text, JSON.stringify(b));
  t.equal(lineJson(a).text, JSON.stringify(a));
});

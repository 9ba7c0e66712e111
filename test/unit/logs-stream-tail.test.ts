import t from 'tap';
import { needsStreamTail, readStreamTail, TAIL_SCAN_MAX_LINES, type StreamTailOptions } from '../../src/logs/stream-tail.js';
import type { ContainerRuntime, LogOptions } from '../../src/runtime/container-runtime.js';
import { FakeLogs } from '../helpers/fakes/fake-logs.js';


/** readStreamTail over the fake engine's log of one container, recording each read's tail. */
function setup() {
  const logs = new FakeLogs();
  const tails: (number | 'all')[] = [];
  const runtime = {
    openLogs: async (_id: string, o: LogOptions) => {
      tails.push(o.tail);
      return logs.open('c', false, o);
    },
  } as unknown as ContainerRuntime;
  const read = (o: Partial<StreamTailOptions> & Pick<StreamTailOptions, 'tail' | 'stream'>) =>
    readStreamTail({ runtime, containerName: 'c', since: null, maxLineBytes: 64 * 1024, deadlineMs: 10_000, signal: new AbortController().signal, ...o });
  return { logs, tails, read };
}

t.test('which requests need it: a number of lines of one stream', async (t) => {
  t.ok(needsStreamTail({ tail: 5, stream: 'stdout' }));
  t.notOk(needsStreamTail({ tail: 5, stream: 'both' }));
  t.notOk(needsStreamTail({ tail: 'all', stream: 'stderr' }));
  t.notOk(needsStreamTail({ tail: 0, stream: 'stderr' }), 'tail=0 delivers nothing');
});

t.test('past TAIL_SCAN_MAX_LINES the next read is the whole log', async (t) => {
  const { logs, tails, read } = setup();
  logs.append('c', 'stdout', 'needle\n');
  logs.append('c', 'stderr', Array.from({ length: 120_000 }, (_, i) => `e${i}`).join('\n'));
  const r = await read({ tail: 5, stream: 'stdout' });
  t.same(r?.lines.map((l) => l.line), ['needle']);
  t.same(tails, [5, 20, 80, 320, 1280, 5120, 20480, 81920, 'all']);
  t.ok(81920 * 4 > TAIL_SCAN_MAX_LINES);
  t.equal(r?.reads, 9);
  t.equal(r?.last?.line, 'e119999', 'last: the last line of either stream');
});

t.test('lines over 16 KiB are several engine entries: not mistaken for the end of the log', async (t) => {
  const { logs, tails, read } = setup();
  logs.append('c', 'stdout', 'first\n');
  logs.append('c', 'stderr', `${'x'.repeat(20_000)}\n${'y'.repeat(20_000)}\n`);
  const r = await read({ tail: 1, stream: 'stdout' });
  t.same(r?.lines.map((l) => l.line), ['first']);
  t.same(tails, [1, 4, 16], 'tail 4 holds two lines (four entries) and does not end the search');
  const { logs: l2, tails: t2, read: read2 } = setup();
  l2.append('c', 'stderr', `${'x'.repeat(20_000)}\nshort\n`);
  const empty = await read2({ tail: 1, stream: 'stdout' });
  t.same(empty?.lines, []);
  t.same(t2, [1, 4, 16], 'two reads starting at the same line: the log has no more');
});

t.test('a since well after the window start ends the search (older lines are cut by since)', async (t) => {
  const { logs, tails, read } = setup();
  logs.append('c', 'stdout', 'old\n');
  logs.append('c', 'stderr', Array.from({ length: 1000 }, (_, i) => `e${i}`).join('\n'));
  logs.pause(60);
  logs.append('c', 'stderr', 'n1\nn2\nn3\n');
  const probe = await read({ tail: 3, stream: 'stderr' });
  const newest = probe!.lines[0]!.ts;
  tails.length = 0;
  const since = new Date(Date.parse(newest) - 30_000).toISOString().replace('Z', '000000Z');
  const r = await read({ tail: 2, stream: 'stdout', since });
  t.same(tails, [2, 8], 'the second window reaches lines from before since: no third read');
  t.same(r?.lines.map((l) => l.line), [], 'no stdout line in the window');
});

t.test('the owner leaving ends the search; a missing container is undefined', async (t) => {
  const { logs, read } = setup();
  logs.append('c', 'stderr', 'e\n');
  const gone = new AbortController();
  gone.abort();
  t.equal(await read({ tail: 1, stream: 'stdout', signal: gone.signal }), undefined);
  const runtime = { openLogs: async () => undefined } as unknown as ContainerRuntime;
  t.equal(await readStreamTail({ runtime, containerName: 'c', tail: 1, stream: 'stdout', since: null, maxLineBytes: 1024, deadlineMs: 1000, signal: new AbortController().signal }), undefined);
});

import t from 'tap';
import { backlogQuery, LiveCut, lineKey, matches, RESYNC_S } from '../../src/logs/cut.js';
import type { LogLine } from '../../src/logs/types.js';

/** A log whose timestamps are NOT in order across streams (as the engine writes them). */
function makeLog(n: number): LogLine[] {
  const out: LogLine[] = [];
  for (let i = 0; i < n; i++) {
    const stream = i % 2 ? 'stderr' : 'stdout';
    // stderr lines are stamped 3 ms "earlier" than their neighbours: inversions.
    const ms = 1000 + i - (stream === 'stderr' ? 3 : 0);
    out.push({ ts: `2026-01-01T00:00:${String(Math.floor(ms / 1000)).padStart(2, '0')}.${String(ms % 1000).padStart(3, '0')}${String(i).padStart(6, '0')}Z`, stream, line: String(i) });
  }
  return out;
}

/**
 * Simulates a follower: the hub had delivered `hubPos` lines when it subscribed, the backlog
 * snapshot holds the first `snap` lines (snap >= hubPos), and the hub then delivers the rest.
 */
function follow(log: LogLine[], hubPos: number, snap: number): string[] {
  const backlog = log.slice(0, snap);
  const x = backlog.at(-1) ?? null;
  const hubLast = hubPos > 0 ? lineKey(log[hubPos - 1]!) : null;
  const cut = new LiveCut(x, hubLast);
  const live = log.slice(hubPos).filter((l) => cut.admit(l));
  return [...backlog, ...live].map((l) => l.line);
}

t.test('backlog + live = the whole log exactly once, for every subscription and snapshot point', async (t) => {
  const log = makeLog(40);
  const want = log.map((l) => l.line);
  for (let hubPos = 0; hubPos <= log.length; hubPos++) {
    for (let snap = hubPos; snap <= log.length; snap++) {
      const got = follow(log, hubPos, snap);
      if (JSON.stringify(got) !== JSON.stringify(want)) return t.fail(`hub at ${hubPos}, snapshot at ${snap}: ${got.join(',')}`);
    }
  }
  t.pass('no gap, no duplicate at any cut');
});

t.test('an empty backlog admits everything', async (t) => {
  const cut = new LiveCut(null, null);
  t.ok(makeLog(3).every((l) => cut.admit(l)));
});

t.test('if the backlog end never arrives, newer lines resync after RESYNC_S', async (t) => {
  const x: LogLine = { ts: '2026-01-01T00:00:00Z', stream: 'stdout', line: 'x' };
  const cut = new LiveCut(x, 'other');
  t.notOk(cut.admit({ ts: '2026-01-01T00:00:01Z', stream: 'stdout', line: 'a' }), 'dropped while waiting for X');
  t.ok(cut.admit({ ts: `2026-01-01T00:00:0${RESYNC_S + 1}Z`, stream: 'stdout', line: 'b' }), 'far newer: resynced');
  t.equal(cut.resynced, true);
});

t.test('backlog queries', async (t) => {
  t.same(backlogQuery({ tail: 0, since: null }), { tail: 1, since: null }, 'tail=0 still reads the last line');
  t.same(backlogQuery({ tail: 50, since: '2026-01-01T00:00:30.000000000Z' }), { tail: 50, since: null }, 'tail first, since applied here');
  t.same(backlogQuery({ tail: 'all', since: '2026-01-01T00:00:30.000000000Z' }), { tail: 'all', since: '2026-01-01T00:00:20.000000000Z' });
});

t.test('filters', async (t) => {
  const l: LogLine = { ts: '2026-01-01T00:00:05.5Z', stream: 'stderr', line: 'x' };
  const none = { stream: 'both', since: null, until: null } as const;
  t.ok(matches(l, none));
  t.notOk(matches(l, { ...none, stream: 'stdout' }));
  t.ok(matches(l, { ...none, since: '2026-01-01T00:00:05.500000000Z' }), 'since is inclusive (as the engine)');
  t.notOk(matches(l, { ...none, since: '2026-01-01T00:00:05.500000001Z' }));
  t.notOk(matches(l, { ...none, until: '2026-01-01T00:00:05.000000000Z' }));
});

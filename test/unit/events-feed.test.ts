import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import t, { type Test } from 'tap';
import { EventFeed } from '../../src/events/feed.js';
import { EventPruner } from '../../src/events/pruner.js';
import { REPLAY_PAGE, streamEvents, type EventChannel } from '../../src/events/stream.js';
import type { PodTransition } from '../../src/pods/transitions.js';
import { openDb } from '../../src/store/db.js';
import { EventsRepo, type PodEvent } from '../../src/store/events-repo.js';

const log = pino({ level: 'silent' });

function setup(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'pinacled-events-'));
  let db = openDb(dir);
  t.teardown(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const clock = { now: new Date('2030-01-01T00:00:00.000Z') };
  const repo = new EventsRepo(db);
  const feed = new EventFeed({ repo, log, now: () => clock.now });
  return {
    dir,
    repo,
    feed,
    clock,
    reopen() {
      db.close();
      db = openDb(dir);
      return new EventFeed({ repo: new EventsRepo(db), log, now: () => clock.now });
    },
  };
}

const tr = (podId: string, type: PodTransition['type'], details: Record<string, unknown> = {}): PodTransition => ({ podId, podName: `n-${podId}`, type, details });

/** A channel that records messages and can be told to be slow. */
function channel() {
  const msgs: { type: string; event?: PodEvent; fromSeq?: number; toSeq?: number }[] = [];
  const closers: (() => void)[] = [];
  let waits = 0;
  const ch: EventChannel & { msgs: typeof msgs; close(): void; waits(): number; seqs(): number[] } = {
    closed: false,
    msgs,
    send: (m) => void msgs.push(m as (typeof msgs)[number]),
    async waitForRoom() {
      waits++;
      await new Promise((r) => setImmediate(r));
    },
    onClose: (fn) => void closers.push(fn),
    close() {
      (this as { closed: boolean }).closed = true;
      for (const f of closers) f();
    },
    waits: () => waits,
    seqs: () => msgs.filter((m) => m.type === 'event').map((m) => m.event!.seq),
  };
  return ch;
}

t.test('seq is gap-free, increasing, and survives a reopen of the store', async (t) => {
  const s = setup(t);
  const a = s.feed.record(tr('p1', 'created', { image: 'x' }))!;
  const b = s.feed.record(tr('p1', 'started'))!;
  t.equal(b.seq, a.seq + 1);
  t.same(a.details, { image: 'x' });
  t.equal(a.time, '2030-01-01T00:00:00.000Z');
  const again = s.reopen();
  const c = again.record(tr('p2', 'created'))!;
  t.equal(c.seq, b.seq + 1, 'continues after a restart');
  t.same(again.list(0, 10).map((e) => e.seq), [a.seq, b.seq, c.seq]);
  t.same(again.list(a.seq, 10, 'p1').map((e) => e.type), ['started'], 'after + podId filter');
});

t.test('pruning by age and by count; latestSeq survives pruning and seqs are never reused', async (t) => {
  const s = setup(t);
  for (let i = 0; i < 5; i++) s.feed.record(tr('p', 'started'));
  s.clock.now = new Date('2030-01-03T00:00:00.000Z');
  for (let i = 0; i < 5; i++) s.feed.record(tr('p', 'stopped'));
  const pruner = new EventPruner({ repo: s.repo, maxAgeS: 86400, maxCount: 3, intervalMs: 60_000, log, now: () => s.clock.now });
  t.equal(pruner.runOnce(), 7, '5 too old + 2 beyond the newest 3');
  t.same(s.feed.list(0, 100).map((e) => e.seq), [8, 9, 10]);
  t.equal(s.feed.oldestSeq(), 8);
  s.clock.now = new Date('2030-02-01T00:00:00.000Z');
  pruner.runOnce();
  t.equal(s.feed.oldestSeq(), null, 'all pruned');
  t.equal(s.feed.latestSeq(), 10, 'the high-water mark stays');
  t.equal(s.feed.record(tr('p', 'started'))!.seq, 11, 'no seq is reused');
});

t.test('a store failure loses the event but never throws into the pod service', async (t) => {
  const s = setup(t);
  const broken = new EventFeed({
    repo: {
      insert() {
        throw Object.assign(new Error('disk full'), { code: 'SQLITE_FULL' });
      },
    } as unknown as EventsRepo,
    log,
  });
  t.equal(broken.record(tr('p', 'started')), undefined);
  t.ok(s.feed.record(tr('p', 'started')));
});

t.test('stream: replays after `after`, then live, no gap and no duplicate across many pages', async (t) => {
  const s = setup(t);
  const n = REPLAY_PAGE * 2 + 17;
  for (let i = 0; i < n; i++) s.feed.record(tr('p', 'started'));
  const ch = channel();
  // Events recorded while the replay is paused between pages must come exactly once.
  const done = streamEvents(s.feed, ch, { after: 5 });
  s.feed.record(tr('p', 'stopped'));
  await done;
  s.feed.record(tr('p', 'exited'));
  const seqs = ch.seqs();
  const want = Array.from({ length: n + 2 - 5 }, (_, i) => i + 6);
  t.same(seqs, want, `${seqs.length} events, in order, each once`);
  t.ok(ch.waits() >= 2, 'paged with pauses');
  ch.close();
  s.feed.record(tr('p', 'started'));
  t.equal(ch.seqs().length, want.length, 'nothing after close');
});

t.test('stream without after: live only; with podId: that pod only', async (t) => {
  const s = setup(t);
  s.feed.record(tr('a', 'created'));
  const live = channel();
  await streamEvents(s.feed, live, { after: undefined });
  const onlyB = channel();
  await streamEvents(s.feed, onlyB, { after: 0, podId: 'b' });
  s.feed.record(tr('a', 'started'));
  s.feed.record(tr('b', 'created'));
  t.same(live.seqs(), [2, 3]);
  t.same(onlyB.seqs(), [3]);
});

t.test('stream reports events that were pruned before the client asked', async (t) => {
  const s = setup(t);
  for (let i = 0; i < 10; i++) s.feed.record(tr('p', 'started'));
  new EventPruner({ repo: s.repo, maxAgeS: 1e9, maxCount: 4, intervalMs: 1000, log }).runOnce();
  const ch = channel();
  await streamEvents(s.feed, ch, { after: 2 });
  t.same(ch.msgs[0], { type: 'gap', fromSeq: 3, toSeq: 6 });
  t.same(ch.seqs(), [7, 8, 9, 10]);
});

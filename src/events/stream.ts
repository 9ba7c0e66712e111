import type { PodEvent } from '../store/events-repo.js';
import type { EventFeed } from './feed.js';

/** Events per replay page; between pages the sender waits for the client to catch up. */
export const REPLAY_PAGE = 500;

/** What the stream needs of a JSON WebSocket (api/websocket.ts JsonSocket). */
export interface EventChannel {
  readonly closed: boolean;
  send(msg: unknown): void;
  waitForRoom(): Promise<void>;
  onClose(fn: () => void): void;
}

/** WebSocket messages (openapi.yaml `EventStreamMessage`). */
export type EventStreamMessage =
  | { type: 'event'; event: PodEvent }
  /** Events fromSeq..toSeq were pruned before this client asked for them. */
  | { type: 'gap'; fromSeq: number; toSeq: number };

/**
 * Replays the events after `after` from the store, then follows live ones, with no gap and no
 * duplicate: the replay reads pages until one comes back short, and the live subscription is
 * made in that same tick. The store is synchronous and the feed stores and announces an event
 * in one tick, so no event can fall between the last page and the subscription; live events
 * at or below the last replayed seq are skipped all the same.
 */
export async function streamEvents(feed: EventFeed, ch: EventChannel, o: { after: number | undefined; podId?: string | undefined }): Promise<void> {
  let last = o.after ?? feed.latestSeq();
  if (o.after !== undefined) {
    const first = feed.oldestSeq() ?? feed.latestSeq() + 1;
    if (first > last + 1) ch.send({ type: 'gap', fromSeq: last + 1, toSeq: first - 1 } satisfies EventStreamMessage);
  }
  for (;;) {
    if (ch.closed) return;
    const page = feed.list(last, REPLAY_PAGE, o.podId);
    for (const event of page) ch.send({ type: 'event', event } satisfies EventStreamMessage);
    if (page.length) last = page.at(-1)!.seq;
    if (page.length < REPLAY_PAGE) break;
    await ch.waitForRoom();
  }
  if (ch.closed) return;
  const unsubscribe = feed.subscribe((event) => {
    if (event.seq <= last || (o.podId !== undefined && event.podId !== o.podId)) return;
    last = event.seq;
    ch.send({ type: 'event', event } satisfies EventStreamMessage);
  });
  ch.onClose(unsubscribe);
}

/** A transition, as the event feed and metrics see it. */
export interface PodTransition {
  podId: string;
  podName: string;
  type: 'created' | 'started' | 'stopped' | 'exited' | 'oom-killed' | 'failed' | 'deleted' | 'restarted';
  details: Record<string, unknown>;
}

/**
 * Told of every transition before the service's 'transition' listeners hear of it: the event
 * feed (events/feed.ts) stores each one with the next sequence number there. Must not throw: it
 * runs inside the operation that made the transition.
 */
export interface TransitionSink {
  record(t: PodTransition): void;
}

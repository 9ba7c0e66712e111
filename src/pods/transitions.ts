/** A transition, as the event feed and metrics see it. */
export interface PodTransition {
  podId: string;
  podName: string;
  type: 'created' | 'started' | 'stopped' | 'exited' | 'oom-killed' | 'failed' | 'deleted' | 'restarted';
  details: Record<string, unknown>;
}

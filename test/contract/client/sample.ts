/**
 * A small control-plane client written against the types openapi-typescript generates from
 * openapi.yaml (`./api.js` exists only in the temp dir test/contract/client.test.ts compiles
 * this in). It must compile as written, with no cast between a response and the next request:
 * that is what "a generated client is precise" means. Lines marked `regress:` are where a
 * known regression of the document makes it fail (the test checks each one).
 */
import type { components, operations } from './api.js';

type Schemas = components['schemas'];
type Query<Op extends keyof operations> = NonNullable<operations[Op]['parameters']['query']>;
type Ok<Op extends keyof operations, S extends keyof operations[Op]['responses']> = operations[Op]['responses'][S] extends {
  content: { 'application/json': infer B };
}
  ? B
  : never;
type QueryValue = string | number | boolean | string[] | undefined;

export class ProblemError extends Error {
  constructor(readonly problem: Schemas['Problem']) {
    super(problem.detail ?? problem.title);
  }
}

export class PinacledClient {
  constructor(
    private readonly base: string,
    private readonly token: string,
  ) {}

  listPods(query: Query<'listPods'> = {}): Promise<Ok<'listPods', 200>> {
    return this.#call('GET', '/v1/pods', query);
  }

  createPod(body: Schemas['CreatePodRequest']): Promise<Ok<'createPod', 201>> {
    return this.#call('POST', '/v1/pods', {}, body);
  }

  listEvents(query: Query<'listEvents'> = {}): Promise<Ok<'listEvents', 200>> {
    return this.#call('GET', '/v1/events', query);
  }

  async #call<T>(method: string, path: string, query: Record<string, QueryValue>, body?: unknown): Promise<T> {
    const url = new URL(path, this.base);
    for (const [k, v] of Object.entries(query)) for (const one of [v].flat()) if (one !== undefined) url.searchParams.append(k, String(one));
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(url, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    // The one place a type is asserted: what the wire carries is what openapi.yaml says.
    if (!res.ok) throw new ProblemError((await res.json()) as Schemas['Problem']);
    return (await res.json()) as T;
  }
}

/** What an operator is told about a pod's error: a switch on the documented codes. */
export function advice(error: Schemas['PodError'] | null): string {
  if (!error) return 'none';
  const code: Schemas['PodError']['code'] = error.code;
  switch (code) {
    case 'OOM_KILLED':
      return 'raise resources.memoryMb';
    case 'CONTAINER_GONE':
      return 'start the pod to recreate its container';
    case 'PINACLED_ERR_ENGINE_UNAVAILABLE':
      return 'retry once the engine is back';
    default:
      return code;
  }
}

export async function sample(client: PinacledClient): Promise<string[]> {
  const out: string[] = [];
  // Every running pod, page by page: a page's `next` is the following request's `after`.
  let pods: Query<'listPods'> = { state: 'running', limit: 50 }; // regress: pods limit
  for (;;) {
    const page = await client.listPods(pods);
    for (const pod of page.items) out.push(`${pod.name}: ${pod.state}, error ${advice(pod.error)}`);
    if (page.next === null) break;
    pods = { ...pods, after: page.next };
  }

  const custom = await client.createPod({ name: 'alice-web', template: 'custom', image: 'pinacled/testbox:1' });
  await client.createPod({ name: 'bob-dev', template: 'base', resources: { memoryMb: 512 } });
  out.push(`created ${custom.id} on ${custom.runtime}`);
  const bad: Schemas['CreatePodRequest'][] = [
    // @ts-expect-error a template brings its own image (regress: template with image)
    { name: 'x', template: 'base', image: 'evil:1' },
    // @ts-expect-error a custom pod names its image (regress: custom without image)
    { name: 'y', template: 'custom' },
  ];
  out.push(`${bad.length} bodies the types refuse`);

  // Every event since the first, page by page: `next` goes back as `after` as it is.
  let events: Query<'listEvents'> = { after: 0, limit: 500 }; // regress: events limit
  for (;;) {
    const page = await client.listEvents(events);
    if (page.items.length === 0) break;
    for (const e of page.items) out.push(`${e.seq} ${e.podName} ${e.type}`);
    events = { ...events, after: page.next }; // regress: events cursor
  }

  try {
    await client.createPod({ name: 'alice-web', template: 'custom', image: 'pinacled/testbox:1' });
  } catch (err) {
    if (!(err instanceof ProblemError)) throw err;
    out.push(`refused: ${err.problem.code}`);
  }
  // @ts-expect-error not a documented pod error code (regress: pod error code)
  const typo: Schemas['PodError']['code'] = 'OOM_KILLD';
  out.push(typo);
  return out;
}

import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { PinacledError } from '../errors.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { EngineUnavailableError } from '../runtime/errors.js';
import { NameTakenError, PortsExhaustedError } from '../store/pods-repo.js';
import type { PodContainers } from './containers.js';
import type { EngineMonitor } from './engine-monitor.js';
import { errMessage, mapRuntimeError } from './failures.js';
import { listeningPorts } from './host-ports.js';
import { containerNameFor, newPodId, volumeNameFor } from './ids.js';
import type { PodLocks } from './locks.js';
import type { ObservedState } from './observed.js';
import type { PodRecords } from './records.js';
import { chooseRuntime } from './runtime-choice.js';
import type { Template } from './templates.js';
import type { CreatePodInput, Pod, TemplateName } from './types.js';

export interface CreateHooks {
  /** Called with the new pod's id once its row is committed, before the engine is touched. */
  onIntent?: (podId: string) => void;
}

export interface CreateResult {
  pod: Pod;
  /** Values pinacled generated for the pod (code-server's PASSWORD); shown only here, once. */
  secrets: Record<string, string>;
}

export interface PodCreatorOptions {
  /** The guarded runtime (runtime/guarded-runtime.ts): it gates and reports engine failures. */
  runtime: ContainerRuntime;
  engine: EngineMonitor;
  locks: PodLocks;
  templates: Record<TemplateName, Template>;
  log: Logger;
  runtimeName: string;
  allowUnsandboxed: boolean;
  requireNetstack: boolean;
  publishHost: string;
  portRange: { low: number; high: number };
  records: PodRecords;
  containers: PodContainers;
  observed: ObservedState;
}

/**
 * Create and its rollback. The row is committed (`creating`) before the engine is touched and
 * stays `creating` until the container ran; whatever fails after that is rolled back here, or by
 * the reconciler when the engine (or the store) fails too.
 */
export class PodCreator {
  readonly #o: PodCreatorOptions;

  constructor(o: PodCreatorOptions) {
    this.#o = o;
  }

  async create(input: CreatePodInput, hooks: CreateHooks): Promise<CreateResult> {
    const { records } = this.#o;
    const template = this.#o.templates[input.template];
    const image = template.image ?? input.image!;
    const health = this.#o.engine.health.reachable ? this.#o.engine.health : await this.#o.engine.check();
    if (!health.reachable || !health.info) {
      throw new EngineUnavailableError(`container engine unreachable at create: ${health.error ?? 'unknown'}`);
    }
    const choice = chooseRuntime(health.info, {
      configured: this.#o.runtimeName,
      allowUnsandboxed: this.#o.allowUnsandboxed,
      requireNetstack: this.#o.requireNetstack,
      platform: input.sandbox?.platform
        ? { value: input.sandbox.platform, explicit: true }
        : template.platform && { value: template.platform, explicit: false },
    });
    this.#o.containers.requireFirewall();
    if (!choice.sandboxed) this.#o.log.warn({ name: input.name }, 'creating an UNSANDBOXED pod (PINACLED_ALLOW_UNSANDBOXED is set)');
    if (!(await this.#o.runtime.imageExists(image))) {
      throw new PinacledError('PINACLED_ERR_IMAGE_NOT_FOUND', `Image ${image} is not present on this host; build or load it first`, {
        fields: [{ field: input.template === 'custom' ? 'image' : 'template', message: `image ${image} is not present` }],
      });
    }
    const secrets: Record<string, string> = {};
    const derived: Record<string, string> = {};
    for (const s of template.generatedSecrets) {
      if (input.env?.[s.name] || input.env?.[s.envKey]) continue;
      secrets[s.name] = randomBytes(18).toString('base64url');
      derived[s.envKey] = s.derive(secrets[s.name]!);
    }
    const requested = new Map<number, string | null>(template.ports.map((p) => [p.containerPort, p.name]));
    for (const p of input.ports ?? []) requested.set(p.containerPort, p.name ?? requested.get(p.containerPort) ?? null);
    const id = newPodId();
    const now = records.ts();
    let pod: Pod;
    try {
      const busy = await listeningPorts();
      pod = records.repo.insertWithPorts(
        {
          id,
          name: input.name,
          template: input.template,
          image,
          command: input.command ?? null,
          state: 'creating',
          runtime: choice.runtime,
          sandboxed: choice.sandboxed,
          resources: { ...template.resources, ...input.resources },
          env: { ...input.env, ...derived },
          labels: input.labels ?? {},
          containerName: containerNameFor(id),
          volumeName: volumeNameFor(id),
          containerId: null,
          createdAt: now,
          updatedAt: now,
          startedAt: null,
          finishedAt: null,
          exitCode: null,
          oomKilled: false,
          error: null,
        },
        [...requested].map(([containerPort, name]) => ({ containerPort, name })),
        this.#o.publishHost,
        this.#o.portRange,
        (port) => !busy.has(port),
      );
    } catch (err) {
      if (err instanceof NameTakenError) {
        throw new PinacledError('PINACLED_ERR_NAME_TAKEN', `A pod named ${input.name} exists`, { fields: [{ field: 'name', message: 'is taken' }] });
      }
      if (err instanceof PortsExhaustedError) throw new PinacledError('PINACLED_ERR_PORTS_EXHAUSTED', err.message);
      throw err;
    }
    const log = records.log(pod);
    return this.#o.locks.with(pod.id, 'create', async () => {
      try {
        hooks.onIntent?.(pod.id);
      } catch (err) {
        log.warn({ err: errMessage(err) }, 'create intent hook failed');
      }
      try {
        const containerId = await this.#o.containers.make(pod);
        // The pod stays `creating` until its container ran: a crash anywhere before the 201
        // leaves a `creating` row, and the reconciler rolls the whole create back.
        records.update(pod.id, { containerId });
        records.transition(pod, 'created', { image, runtime: pod.runtime, sandboxed: pod.sandboxed });
        await this.#o.runtime.startContainer(containerId);
        const started = await this.#o.observed.settleAfterStart(pod.id);
        log.info({ state: started.state, hostPorts: started.ports.map((p) => p.hostPort) }, 'pod created');
        return { pod: started, secrets };
      } catch (err) {
        log.warn({ err: errMessage(err) }, 'pod create failed; rolling back');
        await this.#rollback(pod);
        throw mapRuntimeError(err);
      }
    });
  }

  /**
   * After a failed create: remove what it made, then drop the row (frees name and ports). When
   * the engine (or the store) fails too, the row stays `creating` and the reconciler finishes
   * the rollback when it can: the row is dropped only after its engine objects are gone, so a
   * labelled container without a row never comes from here.
   */
  async #rollback(pod: Pod): Promise<void> {
    const { records } = this.#o;
    try {
      await this.discard(pod);
    } catch (err) {
      records.log(pod).warn({ err: errMessage(err) }, 'create rollback left for the reconciler');
      try {
        records.repo.update(pod.id, { error: { code: 'ROLLBACK_PENDING', message: 'the failed create is being rolled back' } }, records.ts());
      } catch {
        // The store refuses writes too (disk full): the row stays `creating` all the same.
      }
    }
  }

  /** Removes a never-acknowledged pod: container, volume, then the row. Throws if any step fails. */
  async discard(pod: Pod): Promise<void> {
    await this.#o.containers.remove(pod);
    this.#o.records.repo.delete(pod.id);
    this.#o.records.transition(pod, 'deleted', { rolledBack: true });
  }
}

import { PinacledError } from '../errors.js';
import type { PodNetworks } from '../network/pod-networks.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { EngineConflictError, withoutValues } from '../runtime/errors.js';
import { mapRuntimeError } from './failures.js';
import { LABEL, STORE_ID_LABEL } from './labels.js';
import { buildContainerSpec } from './spec.js';
import type { Pod } from './types.js';

export interface PodContainersOptions {
  runtime: ContainerRuntime;
  storeId: string;
  logMaxSize: string;
  logMaxFile: number;
  maxHostPids?: number | undefined;
  maxNofile?: number | undefined;
  networks?: PodNetworks | undefined;
  firewall?: { readonly status: { ok: boolean; detail: string } } | undefined;
}

/**
 * A pod's engine objects (volume, network, container): made the same way by a create and by the
 * start that recreates a container removed behind our back, removed the same way by a rolled-back
 * create and a delete.
 */
export class PodContainers {
  readonly #o: PodContainersOptions;

  constructor(o: PodContainersOptions) {
    this.#o = o;
  }

  /**
   * Every path that runs a container (create, start, restart, the recreate of a pod whose
   * container is gone) passes here first: no pod runs while the host firewall policy that
   * isolates it is missing or not yet verified (the guard's status starts not-ok until its
   * first check passed), so it cannot reach the metadata address or private ranges in a gap.
   */
  requireFirewall(): void {
    if (this.#o.firewall && !this.#o.firewall.status.ok) {
      throw new PinacledError('PINACLED_ERR_FIREWALL_UNAVAILABLE', 'The host firewall policy that isolates pods is not in place; see /readyz');
    }
  }

  /** The volume (a no-op when it exists), then network and container; returns the container's id. */
  async make(pod: Pod): Promise<string> {
    await this.#o.runtime.createVolume(pod.volumeName, this.#ownerLabels(pod));
    return this.#createContainer(pod);
  }

  /** Container, volume, then network. Throws if any step fails. */
  async remove(pod: Pod): Promise<void> {
    await this.#o.runtime.removeContainer(pod.containerName);
    await this.#o.runtime.removeVolume(pod.volumeName);
    // After the container: a network with an attached container cannot be removed.
    const networks = this.#o.networks;
    if (networks) await networks.remove(pod.id);
  }

  #ownerLabels(pod: Pod): Record<string, string> {
    return { [LABEL.MANAGED]: 'true', [LABEL.POD_ID]: pod.id, [STORE_ID_LABEL]: this.#o.storeId };
  }

  async #createContainer(pod: Pod): Promise<string> {
    const networks = this.#o.networks;
    // Before the container: Docker attaches it to its network at create.
    const network = networks ? await networks.ensure(pod.id, this.#ownerLabels(pod), LABEL.POD_ID) : null;
    const spec = buildContainerSpec(pod, { logMaxSize: this.#o.logMaxSize, logMaxFile: this.#o.logMaxFile, maxHostPids: this.#o.maxHostPids, maxNofile: this.#o.maxNofile, network });
    spec.labels[STORE_ID_LABEL] = this.#o.storeId;
    try {
      return await this.#o.runtime.createContainer(spec);
    } catch (err) {
      // The only call that carries env values: an engine message quoting them must not be logged.
      if (!(err instanceof EngineConflictError)) throw mapRuntimeError(withoutValues(err, Object.values(spec.env)));
      // A container with our deterministic name exists: a retry after a crash. Adopt it only
      // if it carries this pod's id, otherwise refuse.
      const existing = await this.#o.runtime.inspectContainer(spec.name);
      if (existing && existing.labels[LABEL.POD_ID] === pod.id) return existing.id;
      throw new PinacledError('PINACLED_ERR_ENGINE', `Container name ${spec.name} is held by a container pinacled does not own`);
    }
  }
}

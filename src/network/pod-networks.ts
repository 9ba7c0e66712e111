import { PinacledError } from '../errors.js';
import { EngineConflictError, SubnetOverlapError } from '../runtime/errors.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { allocateSubnet, formatCidr, gatewayOf, parseCidr, type Cidr } from './cidr.js';
import { POD_BRIDGE_PREFIX } from './firewall-rules.js';

export const networkNameFor = (podId: string) => `pinacle-net-${podId}`;
/**
 * `pcl` + 12 characters of the id: Linux interface names hold 15 characters. 60 random bits
 * keep collisions negligible, and the firewall matches every pod bridge with `pcl+`.
 */
export const bridgeNameFor = (podId: string) => `${POD_BRIDGE_PREFIX}${podId.replace(/^p/, '').slice(0, 12)}`;

export interface PodNetworksOptions {
  runtime: ContainerRuntime;
  /** e.g. 10.213.0.0/16 */
  pool: string;
  /** Size of each pod's subnet, e.g. 28 (14 addresses; one pod needs two: gateway and itself). */
  prefix: number;
}

/** Attempts before giving up when other daemons or networks keep taking the subnet we picked. */
const MAX_ATTEMPTS = 8;

/**
 * One user-defined bridge network per pod, so pods cannot reach each other (Docker isolates
 * bridges from each other) and the host firewall can tell pod traffic by its bridge name.
 * Subnets come from a dedicated pool: Docker's default pools hold about 30 networks, and a
 * fixed pool keeps pod addresses recognisable. Allocation is serialised inside the daemon;
 * against other users of the engine it relies on Docker refusing overlapping subnets.
 */
export class PodNetworks {
  readonly #o: PodNetworksOptions;
  readonly #pool: Cidr;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(o: PodNetworksOptions) {
    const pool = parseCidr(o.pool);
    if (!pool) throw new Error(`invalid pod subnet pool ${o.pool}`);
    this.#o = o;
    this.#pool = pool;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Creates the pod's network, or adopts it when it exists and carries this pod's id. Returns its name. */
  ensure(podId: string, labels: Record<string, string>, podIdLabel: string): Promise<string> {
    const name = networkNameFor(podId);
    return this.#serial(async () => {
      const all = await this.#o.runtime.listNetworks();
      const existing = all.find((n) => n.name === name);
      if (existing) return this.#adopt(existing.labels, podIdLabel, podId, name);
      const used = all.flatMap((n) => n.subnets.map(parseCidr).filter((c): c is Cidr => !!c));
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const block = allocateSubnet(this.#pool, this.#o.prefix, used);
        if (!block) {
          throw new PinacledError('PINACLED_ERR_SUBNETS_EXHAUSTED', `No free /${this.#o.prefix} subnet is left in the pod pool ${this.#o.pool}`);
        }
        try {
          await this.#o.runtime.createNetwork({ name, labels, subnet: formatCidr(block), gateway: gatewayOf(block), bridgeName: bridgeNameFor(podId) });
          return name;
        } catch (err) {
          if (err instanceof SubnetOverlapError) {
            used.push(block);
            continue;
          }
          if (err instanceof EngineConflictError) {
            const again = (await this.#o.runtime.listNetworks()).find((n) => n.name === name);
            if (again) return this.#adopt(again.labels, podIdLabel, podId, name);
            throw new PinacledError('PINACLED_ERR_ENGINE', `Network name ${name} is in use but not listed`, { cause: err });
          }
          throw err;
        }
      }
      throw new PinacledError('PINACLED_ERR_SUBNETS_EXHAUSTED', `Could not find a free subnet in ${this.#o.pool} after ${MAX_ATTEMPTS} attempts`);
    });
  }

  #adopt(labels: Record<string, string>, podIdLabel: string, podId: string, name: string): string {
    if (labels[podIdLabel] === podId) return name;
    throw new PinacledError('PINACLED_ERR_ENGINE', `Network name ${name} is held by a network pinacled does not own`);
  }

  /** Removing a network that does not exist succeeds. */
  remove(podId: string): Promise<void> {
    return this.#o.runtime.removeNetwork(networkNameFor(podId));
  }
}

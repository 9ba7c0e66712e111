import type { Logger } from 'pino';
import { CHAIN_FORWARD, driftOf, ipv4Plan, ipv6Plan, type Family, type FamilyPlan, type FirewallPolicy, type ForwardParent } from './firewall-rules.js';
import type { FirewallBackend } from './iptables.js';

/**
 * install: the daemon (root) installs the policy at start and repairs it whenever a check finds
 *          drift (a dockerd restart, an operator's flush). The default.
 * check:   someone else installs it (configuration management); the daemon only verifies.
 * off:     no policy (development machines without iptables); logged as a warning at start.
 */
export type FirewallMode = 'install' | 'check' | 'off';

export interface FirewallStatus {
  mode: FirewallMode;
  /** The policy is in place (always true when off: the operator opted out). */
  ok: boolean;
  /** One line for /readyz. Names chains, never host addresses or command output. */
  detail: string;
  drift: string[];
  checkedAt: string | null;
  /** Repairs made since start (the policy was missing or different and was reinstalled). */
  repairs: number;
}

export interface HostFirewallOptions {
  mode: FirewallMode;
  backend: FirewallBackend;
  /** Evaluated at every check: the host's DNS servers may change. */
  policy: () => FirewallPolicy;
  intervalMs: number;
  log: Logger;
}

const PARENTS: Record<Family, string[]> = { ipv4: ['DOCKER-USER', 'FORWARD'], ipv6: ['DOCKER-USER', 'FORWARD'] };

/**
 * Keeps the pod firewall policy (firewall-rules.ts) installed on the host. A check lists our
 * chains and their parents (and FORWARD, which must reach DOCKER-USER before any other tool's
 * rule); in install mode any drift is repaired at once.
 * Checks run at start, every interval and when the engine comes back (dockerd restarted).
 */
export class HostFirewall {
  readonly #o: HostFirewallOptions;
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<FirewallStatus> | undefined;
  #status: FirewallStatus;

  constructor(o: HostFirewallOptions) {
    this.#o = o;
    this.#status =
      o.mode === 'off'
        ? { mode: 'off', ok: true, detail: 'off (PINACLED_FIREWALL=off): pods can reach host services and private networks', drift: [], checkedAt: null, repairs: 0 }
        : { mode: o.mode, ok: false, detail: 'first check pending', drift: [], checkedAt: null, repairs: 0 };
  }

  get status(): FirewallStatus {
    return this.#status;
  }

  async start(): Promise<void> {
    if (this.#o.mode === 'off') {
      this.#o.log.warn('PINACLED_FIREWALL=off: pods can reach the host\'s services and private networks');
      return;
    }
    await this.check();
    this.#timer = setInterval(this.kick, this.#o.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Re-check soon (the engine came back: dockerd may have rebuilt its chains). */
  readonly kick = (): void => {
    if (this.#o.mode !== 'off') void this.check();
  };

  /** One check (and repair in install mode) now; concurrent callers share it. */
  check(): Promise<FirewallStatus> {
    this.#checking ??= this.#check().finally(() => (this.#checking = undefined));
    return this.#checking;
  }

  async #check(): Promise<FirewallStatus> {
    const { log, mode } = this.#o;
    const prev = this.#status;
    const notes: string[] = [];
    let drift: string[] = [];
    let repaired = false;
    try {
      const plans = await this.#plans(notes);
      for (const plan of plans) {
        let d = await this.#drift(plan);
        if (d.length && mode === 'install') {
          log.warn({ drift: d }, 'pod firewall policy missing or changed; installing it');
          await this.#install(plan);
          repaired = true;
          d = await this.#drift(plan);
        }
        drift = drift.concat(d);
      }
      const ok = drift.length === 0;
      const detail = ok ? `ok (${plans.map((p) => p.family).join(' + ')}${notes.length ? `; ${notes.join('; ')}` : ''})` : `not in place: ${drift.join('; ')}`;
      this.#status = { mode, ok, detail, drift, checkedAt: new Date().toISOString(), repairs: prev.repairs + (repaired ? 1 : 0) };
    } catch (err) {
      log.error({ err: (err as Error).message }, 'pod firewall check failed');
      this.#status = { mode, ok: false, detail: 'cannot read or install the host firewall rules (see the daemon log)', drift, checkedAt: new Date().toISOString(), repairs: prev.repairs };
    }
    if (prev.ok && !this.#status.ok) log.error({ detail: this.#status.detail }, 'pod firewall policy is NOT in place');
    if (!prev.ok && this.#status.ok && prev.checkedAt) log.info('pod firewall policy is in place again');
    return this.#status;
  }

  async #plans(notes: string[]): Promise<FamilyPlan[]> {
    const { backend } = this.#o;
    if (!(await backend.available('ipv4'))) throw new Error('iptables is not available');
    // Without DOCKER-USER (dockerd not started yet, or started with iptables disabled) the
    // jump goes straight into FORWARD; the next check moves it once dockerd creates the chain.
    const plans = [ipv4Plan(this.#o.policy(), await this.#forwardParent('ipv4'))];
    if (await backend.available('ipv6')) {
      plans.push(ipv6Plan(await this.#forwardParent('ipv6')));
    } else {
      // Docker disables IPv6 inside pod namespaces; without ip6tables there is nothing to filter with.
      notes.push('ipv6 not filtered: ip6tables unavailable');
    }
    return plans;
  }

  async #forwardParent(f: Family): Promise<ForwardParent> {
    return (await this.#o.backend.listChain(f, 'DOCKER-USER')) ? 'DOCKER-USER' : 'FORWARD';
  }

  async #drift(plan: FamilyPlan): Promise<string[]> {
    const { backend } = this.#o;
    const chains: Record<string, string[] | null> = {};
    for (const c of Object.keys(plan.chains)) chains[c] = await backend.listChain(plan.family, c);
    const parents: Record<string, string[] | null> = {};
    for (const j of plan.jumps) parents[j.parent] = await backend.listChain(plan.family, j.parent);
    return driftOf(plan, { chains, parents });
  }

  async #install(plan: FamilyPlan): Promise<void> {
    const { backend } = this.#o;
    const f = plan.family;
    await backend.restore(f, plan.restore);
    for (const j of plan.jumps) {
      const want = `-A ${j.parent} ${j.args.join(' ')}`;
      if ((await backend.listChain(f, j.parent))?.[0] !== want) await backend.run(f, ['-I', j.parent, '1', ...j.args]);
      // Remove copies below the first (a concurrent installer, an old position), bottom up so
      // rule numbers stay valid.
      const rules = (await backend.listChain(f, j.parent)) ?? [];
      for (let i = rules.length - 1; i >= 1; i--) if (rules[i] === want) await backend.run(f, ['-D', j.parent, String(i + 1)]);
      // The jump may still sit in the parent we used before (FORWARD before dockerd made DOCKER-USER).
      if (j.args.at(-1) === CHAIN_FORWARD) {
        for (const other of PARENTS[f].filter((p) => p !== j.parent)) {
          const theirs = (await backend.listChain(f, other)) ?? [];
          const stale = `-A ${other} ${j.args.join(' ')}`;
          for (let i = theirs.length - 1; i >= 0; i--) if (theirs[i] === stale) await backend.run(f, ['-D', other, String(i + 1)]);
        }
      }
    }
  }
}

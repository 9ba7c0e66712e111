import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { HostFirewall } from '../network/firewall.js';
import { parseAllowances } from '../network/firewall-rules.js';
import type { FirewallBackend } from '../network/iptables.js';
import { hostDnsServers } from '../network/resolv.js';

/** The pod firewall guard, when this process manages one (a backend that runs iptables). */
export function hostFirewall(config: Config, backend: FirewallBackend | undefined, log: Logger): HostFirewall | undefined {
  if (!backend) return undefined;
  return new HostFirewall({
    mode: config.firewall.mode,
    backend,
    policy: () => ({
      podPool: config.podSubnetPool,
      dnsServers: hostDnsServers(),
      allow: parseAllowances(config.firewall.allow),
      extraBlock: config.firewall.block,
    }),
    intervalMs: config.firewall.checkIntervalMs,
    log,
  });
}

import { readFileSync } from 'node:fs';
import { parseIpv4 } from './cidr.js';

/** IPv4 `nameserver` lines of a resolv.conf text. */
export function nameservers(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m?.[1] && parseIpv4(m[1]) !== undefined) out.push(m[1]);
  }
  return out;
}

const isLoopback = (ip: string) => ip.startsWith('127.');

/**
 * The upstream servers Docker's embedded DNS forwards pods' queries to: the host's resolv.conf
 * without loopback entries, or systemd-resolved's real upstreams when the host only lists its
 * stub (what dockerd itself does). Those queries leave from the pod's network, so the firewall
 * must let them through even when the server sits in a private range (10.255.255.53 here).
 */
export function hostDnsServers(read: (path: string) => string = (p) => readFileSync(p, 'utf8')): string[] {
  const tryRead = (p: string) => {
    try {
      return nameservers(read(p));
    } catch {
      return [];
    }
  };
  const main = tryRead('/etc/resolv.conf');
  const usable = main.filter((ip) => !isLoopback(ip));
  if (usable.length || main.length === 0) return [...new Set(usable)];
  return [...new Set(tryRead('/run/systemd/resolve/resolv.conf').filter((ip) => !isLoopback(ip)))];
}

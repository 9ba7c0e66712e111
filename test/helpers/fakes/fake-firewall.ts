import type { Family } from '../../../src/network/firewall-rules.js';
import type { FirewallBackend } from '../../../src/network/iptables.js';

/**
 * An in-memory filter table per family, for tests: understands what HostFirewall sends
 * (iptables-restore with chain declarations and -A lines; -I/-D by number or by spec).
 * `fail` makes every call throw (iptables missing, lock timeout); `calls` counts changes.
 */
export class FakeFirewall implements FirewallBackend {
  readonly tables: Record<Family, Map<string, string[]>> = {
    ipv4: new Map([
      ['INPUT', []],
      ['FORWARD', ['-A FORWARD -j DOCKER-USER']],
      ['DOCKER-USER', ['-A DOCKER-USER -j RETURN']],
    ]),
    ipv6: new Map([
      ['INPUT', []],
      ['FORWARD', []],
    ]),
  };
  unavailable = new Set<Family>();
  fail: Error | undefined;
  changes = 0;

  async available(family: Family): Promise<boolean> {
    if (this.fail) throw this.fail;
    return !this.unavailable.has(family);
  }

  async listChain(family: Family, chain: string): Promise<string[] | null> {
    if (this.fail) throw this.fail;
    const rules = this.tables[family].get(chain);
    return rules ? [...rules] : null;
  }

  async restore(family: Family, text: string): Promise<void> {
    if (this.fail) throw this.fail;
    this.changes++;
    const t = this.tables[family];
    for (const line of text.split('\n')) {
      const decl = /^:(\S+) - \[0:0\]$/.exec(line);
      if (decl) t.set(decl[1]!, []);
      else if (line.startsWith('-A ')) t.get(line.split(' ')[1]!)!.push(line);
    }
  }

  async run(family: Family, args: string[]): Promise<void> {
    if (this.fail) throw this.fail;
    this.changes++;
    const [op, chain, ...rest] = args;
    const rules = this.tables[family].get(chain!);
    if (!rules) throw new Error(`no chain ${chain}`);
    if (op === '-I') rules.splice(Number(rest[0]) - 1, 0, `-A ${chain} ${rest.slice(1).join(' ')}`);
    else if (op === '-D' && rest.length === 1 && /^\d+$/.test(rest[0]!)) rules.splice(Number(rest[0]) - 1, 1);
    else if (op === '-D') {
      const i = rules.indexOf(`-A ${chain} ${rest.join(' ')}`);
      if (i < 0) throw new Error('no such rule');
      rules.splice(i, 1);
    } else throw new Error(`fake firewall: unsupported ${args.join(' ')}`);
  }

  /** What `iptables -F CHAIN` or a dockerd that re-creates DOCKER-USER would do. */
  flush(family: Family, chain: string): void {
    const rules = this.tables[family].get(chain);
    if (rules) rules.length = 0;
  }
}

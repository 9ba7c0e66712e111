import { execFile } from 'node:child_process';
import type { Family } from './firewall-rules.js';

/**
 * The seam in front of the host firewall: the only file that runs iptables. The daemon talks to
 * it through FirewallBackend, so tests inject failures without touching the host.
 */
export interface FirewallBackend {
  /** Whether this family's tool runs at all (ip6tables may be missing or IPv6 disabled). */
  available(family: Family): Promise<boolean>;
  /** A chain's rules as `-S` prints them (`-A ...` lines), or null when the chain does not exist. */
  listChain(family: Family, chain: string): Promise<string[] | null>;
  /** `iptables-restore --noflush`: atomic per table. */
  restore(family: Family, text: string): Promise<void>;
  /** `iptables -w <args>`. */
  run(family: Family, args: string[]): Promise<void>;
}

export class FirewallCommandError extends Error {
  override name = 'FirewallCommandError';
  constructor(
    readonly command: string,
    readonly stderr: string,
    cause?: unknown,
  ) {
    super(`${command}: ${stderr.trim().split('\n')[0] ?? 'failed'}`, { cause });
  }
}

const TOOL: Record<Family, string> = { ipv4: 'iptables', ipv6: 'ip6tables' };
/** Wait up to this long for the xtables lock (dockerd holds it while it programs rules). */
const LOCK_WAIT_S = '10';
const DEADLINE_MS = 20_000;

function exec(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: DEADLINE_MS, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new FirewallCommandError(`${cmd} ${args.join(' ')}`, String(stderr || err.message), err));
      else resolve(String(stdout));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** iptables-nft says "incompatible" for a chain that does not exist; legacy says "No chain". */
const MISSING_CHAIN = /No chain|does not exist|incompatible/;

export class IptablesBackend implements FirewallBackend {
  async available(family: Family): Promise<boolean> {
    try {
      await exec(TOOL[family], ['-w', LOCK_WAIT_S, '-S', 'INPUT', '1']);
      return true;
    } catch {
      return false;
    }
  }

  async listChain(family: Family, chain: string): Promise<string[] | null> {
    try {
      const out = await exec(TOOL[family], ['-w', LOCK_WAIT_S, '-S', chain]);
      return out.split('\n').filter((l) => l.startsWith('-A '));
    } catch (err) {
      if (err instanceof FirewallCommandError && MISSING_CHAIN.test(err.stderr)) return null;
      throw err;
    }
  }

  async restore(family: Family, text: string): Promise<void> {
    await exec(`${TOOL[family]}-restore`, ['--noflush', '-w', LOCK_WAIT_S], text);
  }

  async run(family: Family, args: string[]): Promise<void> {
    await exec(TOOL[family], ['-w', LOCK_WAIT_S, ...args]);
  }
}

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The docker CLI, for tests that check what really happened in the engine. */
export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 });
  return stdout.trim();
}

export async function inspect(name: string): Promise<any> {
  return JSON.parse(await docker('inspect', name))[0];
}

export async function exists(kind: 'container' | 'volume' | 'network', name: string): Promise<boolean> {
  try {
    await docker(kind, 'inspect', name);
    return true;
  } catch {
    return false;
  }
}

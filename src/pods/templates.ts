import { createHash } from 'node:crypto';
import type { Resources, SandboxPlatform, TemplateName } from './types.js';

export interface Template {
  name: TemplateName;
  description: string;
  /** Image reference, or null for `custom` (the request names it). */
  image: string | null;
  ports: { containerPort: number; name: string }[];
  resources: Resources;
  /**
   * Secrets pinacled generates per pod when the request sets neither `name` nor `envKey`
   * (code-server's PASSWORD). The value is returned once, in the create answer's
   * `secrets[name]`; the pod's env (stored, and seen by `docker inspect`) carries only
   * `envKey` = `derive(value)`.
   */
  generatedSecrets: GeneratedSecret[];
  /**
   * Default gVisor platform (README "gVisor builds and platforms" has the measurements): systrap
   * makes syscalls ~10x cheaper (npm installs, builds, git) but idles ~4.5 points of a core
   * hotter than ptrace under a file-watching dev server. Absent: the registered build's own
   * default (`runsc`: systrap on builds that have it, ptrace on the 2022 one).
   */
  platform?: SandboxPlatform;
}

export interface GeneratedSecret {
  name: string;
  envKey: string;
  derive: (value: string) => string;
}

/**
 * code-server's password, delivered as HASHED_PASSWORD: code-server takes a value without
 * `$argon` as the SHA-256 hex of the password (its "legacy" method, still supported in 4.100)
 * and compares the hash of what is typed. So neither the store nor `docker inspect` nor a
 * terminal's env holds the password. An unsalted SHA-256 is enough here because the password is
 * 144 random bits (no dictionary to try); argon2 would need a native dependency in the daemon.
 * Decision: a hash in the env rather than a PASSWORD_FILE mount, because a file would have to
 * keep the plain password on the host for as long as the pod exists (recreates need it).
 */
export const CODE_SERVER_PASSWORD: GeneratedSecret = {
  name: 'PASSWORD',
  envKey: 'HASHED_PASSWORD',
  derive: (value) => createHash('sha256').update(value).digest('hex'),
};

export interface TemplateOptions {
  imagePrefix: string;
  imageTag: string;
}

/** The built-in templates. Images come from images/ (scripts/build-images). */
export function builtinTemplates(o: TemplateOptions): Record<TemplateName, Template> {
  const img = (n: string) => `${o.imagePrefix}/${n}:${o.imageTag}`;
  const codeServer = { containerPort: 8080, name: 'code-server' };
  return {
    base: {
      name: 'base',
      description: 'Debian with code-server, git, Node.js, Python and the Claude Code CLI',
      image: img('base'),
      ports: [codeServer],
      resources: { cpuCores: 1, memoryMb: 2048, pidsLimit: 256 },
      // An IDE where people install and build: syscall cost is what they feel (build default).
      generatedSecrets: [CODE_SERVER_PASSWORD],
    },
    nextjs: {
      name: 'nextjs',
      description: 'base + a Next.js starter running `next dev` on port 3000',
      image: img('nextjs'),
      ports: [codeServer, { containerPort: 3000, name: 'app' }],
      resources: { cpuCores: 2, memoryMb: 4096, pidsLimit: 512 },
      generatedSecrets: [CODE_SERVER_PASSWORD],
      // A dev server watches files all day: idle cost decides density (1.3% vs 5.9% of a core).
      platform: 'ptrace',
    },
    mastra: {
      name: 'mastra',
      description: 'base + a Mastra agent starter running `mastra dev` on port 4111',
      image: img('mastra'),
      ports: [codeServer, { containerPort: 4111, name: 'app' }],
      resources: { cpuCores: 2, memoryMb: 4096, pidsLimit: 512 },
      generatedSecrets: [CODE_SERVER_PASSWORD],
      // A dev server watches files all day: idle cost decides density (1.3% vs 5.9% of a core).
      platform: 'ptrace',
    },
    custom: {
      name: 'custom',
      description: 'Any local image named in the request',
      image: null,
      ports: [],
      resources: { cpuCores: 1, memoryMb: 1024, pidsLimit: 256 },
      generatedSecrets: [],
    },
  };
}

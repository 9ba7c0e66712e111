import type { Resources, TemplateName } from './types.js';

export interface Template {
  name: TemplateName;
  description: string;
  /** Image reference, or null for `custom` (the request names it). */
  image: string | null;
  ports: { containerPort: number; name: string }[];
  resources: Resources;
  /**
   * Env keys whose value pinacled generates per pod when the request does not set them
   * (code-server's PASSWORD). Returned once, in the create answer's `secrets`.
   */
  generatedSecrets: string[];
}

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
      generatedSecrets: ['PASSWORD'],
    },
    nextjs: {
      name: 'nextjs',
      description: 'base + a Next.js starter running `next dev` on port 3000',
      image: img('nextjs'),
      ports: [codeServer, { containerPort: 3000, name: 'app' }],
      resources: { cpuCores: 2, memoryMb: 4096, pidsLimit: 512 },
      generatedSecrets: ['PASSWORD'],
    },
    mastra: {
      name: 'mastra',
      description: 'base + a Mastra agent starter running `mastra dev` on port 4111',
      image: img('mastra'),
      ports: [codeServer, { containerPort: 4111, name: 'app' }],
      resources: { cpuCores: 2, memoryMb: 4096, pidsLimit: 512 },
      generatedSecrets: ['PASSWORD'],
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

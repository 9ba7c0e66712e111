/** Domain types of a pod. Nothing here knows about Docker. */
import type { PodErrorCode } from '../errors.js';

export const POD_STATES = ['creating', 'starting', 'running', 'stopping', 'stopped', 'failed', 'deleting'] as const;
export type PodState = (typeof POD_STATES)[number];

export const TEMPLATE_NAMES = ['base', 'nextjs', 'mastra', 'custom'] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];
/** gVisor platforms a pod can ask for; each is registered as its own runtime (runsc-<platform>). */
export const SANDBOX_PLATFORMS = ['systrap', 'ptrace'] as const;
export type SandboxPlatform = (typeof SANDBOX_PLATFORMS)[number];

export interface Resources {
  cpuCores: number;
  memoryMb: number;
  /** Processes the user may run; see pods/spec.ts for how this maps to Docker's PidsLimit. */
  pidsLimit: number;
}

export interface PortMapping {
  name: string | null;
  containerPort: number;
  hostPort: number;
  hostIp: string;
}

export interface PodError {
  code: PodErrorCode;
  message: string;
}

/** What a create asks for; api/schemas.ts validates a request body into it. */
export interface CreatePodInput {
  name: string;
  template: TemplateName;
  /** Only with the custom template; the others bring their own image. */
  image?: string | undefined;
  command?: string[] | undefined;
  resources?: Partial<Resources> | undefined;
  sandbox?: { platform?: SandboxPlatform | undefined } | undefined;
  ports?: { containerPort: number; name?: string | undefined }[] | undefined;
  env?: Record<string, string> | undefined;
  labels?: Record<string, string> | undefined;
}

export interface Pod {
  id: string;
  name: string;
  template: TemplateName;
  image: string;
  command: string[] | null;
  state: PodState;
  runtime: string;
  sandboxed: boolean;
  resources: Resources;
  ports: PortMapping[];
  /** Env values stay inside the daemon: the API only shows keys. */
  env: Record<string, string>;
  labels: Record<string, string>;
  containerName: string;
  volumeName: string;
  containerId: string | null;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  oomKilled: boolean;
  error: PodError | null;
}

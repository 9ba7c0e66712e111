import type { ContainerSpec, NetworkSpec } from './container-runtime.js';

/**
 * ContainerSpec -> the body of Docker Engine API `POST /containers/create` (API 1.41).
 * Pure, so the translation is unit-tested without an engine. Field names follow the Engine API.
 */
export interface DockerCreateBody {
  name: string;
  Image: string;
  Cmd?: string[];
  Env: string[];
  Labels: Record<string, string>;
  Hostname: string;
  User?: string;
  WorkingDir?: string;
  ExposedPorts: Record<string, Record<string, never>>;
  HostConfig: {
    Runtime: string;
    NanoCpus: number;
    Memory: number;
    MemorySwap: number;
    MemorySwappiness?: number;
    PidsLimit: number;
    Ulimits: { Name: string; Soft: number; Hard: number }[];
    PortBindings: Record<string, { HostIp: string; HostPort: string }[]>;
    Mounts: { Type: 'volume'; Source: string; Target: string; ReadOnly: boolean }[];
    CapDrop: string[];
    CapAdd: string[];
    SecurityOpt: string[];
    ReadonlyRootfs: boolean;
    Privileged: false;
    NetworkMode: string;
    LogConfig: { Type: 'json-file'; Config: Record<string, string> };
    RestartPolicy: { Name: 'no' };
    ShmSize: number;
    Init: boolean;
  };
}

export function toDockerCreateBody(spec: ContainerSpec): DockerCreateBody {
  const exposed: DockerCreateBody['ExposedPorts'] = {};
  const bindings: DockerCreateBody['HostConfig']['PortBindings'] = {};
  for (const p of spec.ports) {
    const key = `${p.containerPort}/tcp`;
    exposed[key] = {};
    (bindings[key] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
  }
  const body: DockerCreateBody = {
    name: spec.name,
    Image: spec.image,
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: spec.labels,
    Hostname: spec.hostname,
    ExposedPorts: exposed,
    HostConfig: {
      Runtime: spec.runtime,
      NanoCpus: spec.limits.nanoCpus,
      Memory: spec.limits.memoryBytes,
      MemorySwap: spec.limits.memorySwapBytes,
      PidsLimit: spec.limits.pidsLimit,
      Ulimits: [
        { Name: 'nofile', Soft: spec.limits.nofile, Hard: spec.limits.nofile },
        ...(spec.limits.nproc ? [{ Name: 'nproc', Soft: spec.limits.nproc, Hard: spec.limits.nproc }] : []),
      ],
      PortBindings: bindings,
      Mounts: spec.volumes.map((v) => ({ Type: 'volume', Source: v.volume, Target: v.target, ReadOnly: false })),
      CapDrop: spec.security.capDrop,
      CapAdd: spec.security.capAdd,
      SecurityOpt: spec.security.noNewPrivileges ? ['no-new-privileges:true'] : [],
      ReadonlyRootfs: spec.security.readonlyRootfs,
      Privileged: false,
      NetworkMode: spec.network ?? 'bridge',
      LogConfig: { Type: 'json-file', Config: { 'max-size': spec.log.maxSize, 'max-file': String(spec.log.maxFile) } },
      RestartPolicy: { Name: 'no' },
      ShmSize: spec.shmSizeBytes,
      Init: false,
    },
  };
  if (spec.command) body.Cmd = spec.command;
  if (spec.user) body.User = spec.user;
  if (spec.workingDir) body.WorkingDir = spec.workingDir;
  return body;
}

/** NetworkSpec -> the body of Engine API `POST /networks/create` (API 1.41). */
export interface DockerNetworkBody {
  Name: string;
  Driver: 'bridge';
  CheckDuplicate: true;
  Internal: false;
  Attachable: false;
  EnableIPv6: false;
  IPAM: { Driver: 'default'; Config: { Subnet: string; Gateway: string }[] };
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

export function toDockerNetworkBody(spec: NetworkSpec): DockerNetworkBody {
  return {
    Name: spec.name,
    Driver: 'bridge',
    CheckDuplicate: true,
    Internal: false,
    Attachable: false,
    // Docker then disables IPv6 inside the pod's namespace (measured): no IPv6 path to filter.
    EnableIPv6: false,
    IPAM: { Driver: 'default', Config: [{ Subnet: spec.subnet, Gateway: spec.gateway }] },
    Options: {
      'com.docker.network.bridge.name': spec.bridgeName,
      // One pod per network: nothing else should talk on this bridge.
      'com.docker.network.bridge.enable_icc': 'false',
      'com.docker.network.bridge.enable_ip_masquerade': 'true',
    },
    Labels: spec.labels,
  };
}

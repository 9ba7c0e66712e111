/**
 * The seam in front of the container engine. Domain types cross it, never the engine's own.
 * "Not found" is a value (undefined / false); an unreachable engine is an EngineUnavailableError.
 */

export interface VolumeMount {
  volume: string;
  target: string;
}

export interface PortBinding {
  containerPort: number;
  hostPort: number;
  hostIp: string;
}

/** Everything needed to create one pod container; built by the pure pods/spec.ts. */
export interface ContainerSpec {
  name: string;
  image: string;
  command: string[] | null;
  env: Record<string, string>;
  labels: Record<string, string>;
  hostname: string;
  runtime: string;
  user: string | null;
  workingDir: string | null;
  limits: {
    nanoCpus: number;
    memoryBytes: number;
    memorySwapBytes: number;
    pidsLimit: number;
    nofile: number;
  };
  ports: PortBinding[];
  volumes: VolumeMount[];
  security: {
    capDrop: string[];
    capAdd: string[];
    noNewPrivileges: boolean;
    readonlyRootfs: boolean;
  };
  network: string | null;
  log: { maxSize: string; maxFile: number };
  /** Restart policy stays "no": the daemon decides what a dead pod means. */
  shmSizeBytes: number;
}

export interface ContainerStatus {
  id: string;
  name: string;
  labels: Record<string, string>;
  image: string;
  runtime: string;
  /** created | running | paused | restarting | removing | exited | dead */
  status: string;
  running: boolean;
  exitCode: number | null;
  oomKilled: boolean;
  startedAt: string | null;
  finishedAt: string | null;
  pid: number | null;
  error: string | null;
}

export interface ContainerSummary {
  id: string;
  name: string;
  labels: Record<string, string>;
  status: string;
}

export interface VolumeSummary {
  name: string;
  labels: Record<string, string>;
}

export interface EngineInfo {
  version: string;
  apiVersion: string;
  runtimes: string[];
  defaultRuntime: string;
  cgroupVersion: string;
  cgroupDriver: string;
}

export interface EngineEvent {
  /** Container id. */
  id: string;
  action: string;
  labels: Record<string, string>;
  /** Unix nanoseconds as reported by the engine. */
  timeNano: bigint;
  exitCode: number | null;
}

export interface EventSubscription {
  close(): void;
}

export interface ContainerRuntime {
  info(): Promise<EngineInfo>;
  imageExists(ref: string): Promise<boolean>;
  createVolume(name: string, labels: Record<string, string>): Promise<void>;
  /** Removing a volume that does not exist succeeds. */
  removeVolume(name: string): Promise<void>;
  listVolumes(labelFilter: string): Promise<VolumeSummary[]>;
  /** Returns the container id. A name already in use is an EngineConflictError. */
  createContainer(spec: ContainerSpec): Promise<string>;
  /** Starting a running container succeeds (Docker's 304). */
  startContainer(id: string): Promise<void>;
  /** Stopping a stopped container succeeds (Docker's 304). */
  stopContainer(id: string, timeoutS: number): Promise<void>;
  /** Removing a container that does not exist succeeds. */
  removeContainer(id: string): Promise<void>;
  inspectContainer(id: string): Promise<ContainerStatus | undefined>;
  /** All containers (running or not) carrying the label (`key` or `key=value`). */
  listContainers(labelFilter: string): Promise<ContainerSummary[]>;
  /**
   * Follows the engine's container events carrying the label. `onEvent` gets each event,
   * `onError` is called once when the stream breaks (engine restart); the caller resubscribes.
   */
  subscribeEvents(
    labelFilter: string,
    since: Date | undefined,
    onEvent: (e: EngineEvent) => void,
    onError: (err: Error) => void,
  ): Promise<EventSubscription>;
}

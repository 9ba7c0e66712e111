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
    /**
     * RLIMIT_NPROC inside the pod (gVisor enforces it per user, threads included, and fork
     * fails with EAGAIN like Linux): the process limit users see. Absent: no in-pod limit.
     */
    nproc?: number;
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

/**
 * Resource usage as the engine's stats API reports it. Only the metrics collector's fallback
 * uses it (one call takes about 1 s here: never on a request path).
 */
export interface ContainerStats {
  /** When the engine read the numbers (ISO 8601). */
  readAt: string;
  cpuUsageNs: number;
  cpuThrottledNs: number | null;
  memoryUsageBytes: number;
  memoryWorkingSetBytes: number;
  memoryLimitBytes: number | null;
  pids: number | null;
  pidsLimit: number | null;
  /** null when the container has no network interface the engine reports. */
  networkRxBytes: number | null;
  networkTxBytes: number | null;
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

/** A per-pod bridge network (network/pod-networks.ts). */
export interface NetworkSpec {
  name: string;
  labels: Record<string, string>;
  /** IPv4 CIDR from pinacled's pod subnet pool. */
  subnet: string;
  gateway: string;
  /** Host-side bridge interface name; the firewall matches pod bridges by its prefix. */
  bridgeName: string;
}

export interface NetworkSummary {
  id: string;
  name: string;
  labels: Record<string, string>;
  /** IPv4 and IPv6 subnets of the network's IPAM config. */
  subnets: string[];
}

export interface EngineInfo {
  version: string;
  apiVersion: string;
  runtimes: string[];
  /** runtimeArgs of each registered runtime (e.g. `--network=host`, `--platform=ptrace`). */
  runtimeArgs?: Record<string, string[]>;
  /** The binary each registered runtime runs (the host setup's names carry the gVisor build). */
  runtimePaths?: Record<string, string>;
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

/** A container log query, as the engine's logs endpoint takes it. */
export interface LogOptions {
  follow: boolean;
  /** Lines from the end of the log, or everything. */
  tail: number | 'all';
  /** Unix seconds with up to nine fraction digits ("1700000000.000000001"). */
  since?: string | undefined;
  until?: string | undefined;
  /** Prefix every message with its RFC 3339 timestamp and a space. */
  timestamps: boolean;
  stdout: boolean;
  stderr: boolean;
}

/** An open engine log stream. Its owner must call close() when done (idempotent). */
export interface LogStream {
  /** The container has a TTY: the bytes are one raw stream, not multiplexed frames. */
  tty: boolean;
  /** The engine's bytes, unparsed (src/logs/ demultiplexes them); ends when the engine ends it. */
  stream: NodeJS.ReadableStream;
  /** Destroys the engine connection behind the stream. */
  close(): void;
}

export interface ContainerRuntime {
  info(): Promise<EngineInfo>;
  imageExists(ref: string): Promise<boolean>;
  createVolume(name: string, labels: Record<string, string>): Promise<void>;
  /** Removing a volume that does not exist succeeds. */
  removeVolume(name: string): Promise<void>;
  listVolumes(labelFilter: string): Promise<VolumeSummary[]>;
  /**
   * Returns the network id. A name in use is an EngineConflictError; a subnet that overlaps
   * another network or a host route is a SubnetOverlapError (the caller tries the next one).
   */
  createNetwork(spec: NetworkSpec): Promise<string>;
  /** Removing a network that does not exist succeeds. */
  removeNetwork(nameOrId: string): Promise<void>;
  /** Networks carrying the label, or every network of the engine (to avoid its subnets). */
  listNetworks(labelFilter?: string): Promise<NetworkSummary[]>;
  /** Returns the container id. A name already in use is an EngineConflictError. */
  createContainer(spec: ContainerSpec): Promise<string>;
  /** Starting a running container succeeds (Docker's 304). */
  startContainer(id: string): Promise<void>;
  /** Stopping a stopped container succeeds (Docker's 304). */
  stopContainer(id: string, timeoutS: number): Promise<void>;
  /** Removing a container that does not exist succeeds. */
  removeContainer(id: string): Promise<void>;
  inspectContainer(id: string): Promise<ContainerStatus | undefined>;
  /**
   * One stats reading of a running container (undefined: not found or not running). Optional
   * so that test doubles need not implement it; the collector reads cgroup files first.
   */
  containerStats?(id: string): Promise<ContainerStats | undefined>;
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
  /**
   * Opens the container's log (json-file driver). Resolves once the engine answered; undefined
   * when the container does not exist. A follow stream ends when the container stops.
   */
  openLogs(id: string, opts: LogOptions): Promise<LogStream | undefined>;
  /**
   * Starts a process in a running container. Undefined: no such container; a container that
   * is not running is a ContainerNotRunningError.
   */
  exec(id: string, opts: ExecOptions): Promise<ExecSession | undefined>;
}

/** A process to run inside a running container (the engine's exec). */
export interface ExecOptions {
  cmd: string[];
  env?: Record<string, string> | undefined;
  /** User name or uid[:gid]; null: the image's user. */
  user?: string | null | undefined;
  /** Absolute path; null: the image's working directory. */
  workdir?: string | null | undefined;
  /** Allocate a PTY: one raw output stream, resizable. */
  tty: boolean;
  /** Attach stdin (the session's `stdin` is then writable; ending it sends EOF). */
  stdin: boolean;
}

/**
 * A started exec. Its owner reads the output until it ends, then calls wait(); close() destroys
 * the engine connection (idempotent). Closing does not kill the process inside the container:
 * the engine has no such call, so src/access/ runs every command under a wrapper that can.
 */
export interface ExecSession {
  /** Writable when started with `stdin`; else null. */
  stdin: NodeJS.WritableStream | null;
  /** Standard output; for a TTY exec the PTY's one stream. */
  stdout: NodeJS.ReadableStream;
  /** Standard error; ends at once for a TTY exec. */
  stderr: NodeJS.ReadableStream;
  /** Sets the PTY size (TTY execs only). */
  resize(cols: number, rows: number): Promise<void>;
  /** The exit code once the output has ended (null: the engine does not know it). */
  wait(): Promise<number | null>;
  close(): void;
}

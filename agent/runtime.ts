// The container runtime as the agent sees it: a narrow interface over containerd (implemented over
// `ctr` in ctr.ts, recorded by FakeRuntime in tests). Containers carry their identity in labels so
// the agent can rebuild its state from containerd alone after a restart.

/** Labels every container of the agent carries. */
export const labels = {
  podUID: 'io.k8ts.pod.uid',
  podName: 'io.k8ts.pod.name',
  podNamespace: 'io.k8ts.pod.namespace',
  containerName: 'io.k8ts.container.name',
  attempt: 'io.k8ts.container.attempt',
  init: 'io.k8ts.container.init',
  /** Set after the task exited, before the task is deleted: the exit survives an agent restart. */
  exitCode: 'io.k8ts.exit.code',
  finishedAt: 'io.k8ts.exit.finished-at',
  startedAt: 'io.k8ts.started-at',
  oom: 'io.k8ts.exit.oom',
  /** `uid:gid` of a container with a securityContext user (agent/run-as.ts), for exec. */
  runAs: 'io.k8ts.run-as',
} as const;

export interface Mount {
  source: string;
  destination: string;
  readOnly: boolean;
}

export interface ContainerConfig {
  id: string;
  image: string;
  labels: Record<string, string>;
  /** The full argv; empty means the image's entrypoint and command. */
  args: string[];
  env: string[];
  cwd?: string;
  mounts: Mount[];
  /** Path of the network namespace to join; undefined with hostNetwork. */
  netnsPath?: string;
  /** Path of the pod's UTS namespace (its hostname); undefined: the runtime's default. */
  utsPath?: string;
  hostNetwork: boolean;
  logPath?: string;
  /** A containerd binary log driver for `logPath` (agent/logs-writer.ts); raw file:// without. */
  logWriter?: string;
  memoryLimitBytes?: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  cpuShares?: number;
  privileged: boolean;
  /** OCI annotations of the container's spec. */
  annotations?: Record<string, string>;
  /** A runc-compatible binary the shim runs for this container (agent/run-as.ts's wrapper). */
  runcBinary?: string;
}

export interface ExecOutcome {
  exitCode: number;
  /** stdout then stderr, as upstream's exec probe reports its output. */
  output: string;
  timedOut: boolean;
}

export type TaskStatus = 'RUNNING' | 'STOPPED' | 'CREATED' | 'PAUSED' | 'UNKNOWN';

export interface TaskInfo {
  id: string;
  pid: number;
  status: TaskStatus;
}

export interface ContainerInfo {
  id: string;
  image: string;
  labels: Record<string, string>;
  createdAt: string;
}

export interface ImageConfig {
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
  /** The image's USER (`uid[:gid]` or a name), '' when it sets none. */
  user?: string;
}

export type RuntimeEvent =
  | { type: 'exit'; id: string; pid: number; exitCode: number; exitedAt: string }
  | { type: 'start'; id: string; pid: number }
  | { type: 'oom'; id: string }
  | { type: 'delete'; id: string };

export interface Runtime {
  version(): Promise<string>;
  listImages(): Promise<string[]>;
  importImage(file: string): Promise<string[]>;
  pullImage(ref: string, opts: { plainHttp: boolean }): Promise<void>;
  imageConfig(ref: string): Promise<ImageConfig>;
  /** The image's size as containerd's CRI reports it (for the Pulled event); undefined: unknown. */
  imageSize?(ref: string): Promise<number | undefined>;
  /** Creates the container and starts its task (`ctr run -d`); resolves with the task's pid. */
  run(c: ContainerConfig): Promise<number>;
  kill(id: string, signal: string): Promise<void>;
  /** The container's cgroup path (what `ctr run` gives it), for /stats/summary. */
  cgroupPath(id: string): string;
  /**
   * Whether the kernel OOM-killed a process of the container (its cgroup's counter). Read it before
   * the task is deleted: that removes the cgroup. The event stream's `oom` may come after the exit
   * (or a relist may see the exit first), so the counter is what decides OOMKilled.
   */
  oomKilled(id: string): boolean;
  /** Runs a process in the container's task (probes, hooks) and waits for it, at most `timeoutMs`. */
  execInContainer(id: string, argv: readonly string[], timeoutMs: number, user?: string): Promise<ExecOutcome>;
  /** Deletes the (stopped) task; resolves with its exit code when ctr reports one. */
  deleteTask(id: string): Promise<number | undefined>;
  deleteContainer(id: string): Promise<void>;
  /** Removes a snapshot left without its container (a `ctr run` interrupted half-way). */
  removeSnapshot(key: string): Promise<void>;
  setLabels(id: string, labels: Record<string, string>): Promise<void>;
  listContainers(): Promise<string[]>;
  containerInfo(id: string): Promise<ContainerInfo | undefined>;
  listTasks(): Promise<TaskInfo[]>;
  /** Streams task events until `stop`; `onEnd` when the stream broke (containerd restarted). */
  events(onEvent: (e: RuntimeEvent) => void, onEnd: (err: unknown) => void): { stop(): void };
}

/** A failure reported by the runtime, with its message as containerd gave it. */
export class RuntimeError extends Error {
  readonly code = 'RuntimeFailed';
  constructor(message: string, readonly stderr = '') {
    super(message);
    this.name = 'RuntimeError';
  }
}

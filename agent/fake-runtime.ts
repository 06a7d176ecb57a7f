// An in-memory Runtime for unit tests: containers and tasks as plain maps, every call recorded in
// `calls` (`run <id>`, `kill <id> SIGTERM`, …), exits injected with `exit(id, code)`, which also
// emits the event as containerd would.
import type { ContainerConfig, ContainerInfo, ExecOutcome, ImageConfig, Runtime, RuntimeEvent, TaskInfo } from './runtime.js';
import { RuntimeError } from './runtime.js';

interface FakeContainer {
  config: ContainerConfig;
  labels: Record<string, string>;
  /** `oomKills`: the task's cgroup counter (the cgroup goes with the task). */
  task?: { pid: number; status: 'RUNNING' | 'STOPPED'; exitCode?: number; oomKills?: number };
}

export class FakeRuntime implements Runtime {
  readonly calls: string[] = [];
  readonly containers = new Map<string, FakeContainer>();
  images = new Set<string>(['docker.io/k8ts/busybox:test']);
  /** argv[0] values that fail to start, as a missing binary does. */
  readonly missingBinaries = new Set<string>();
  /** Exit code for tasks that get SIGTERM (undefined: ignore it, as sh as PID 1 does). */
  sigtermExitCode: number | undefined = 143;
  /** Errors the next `run` calls throw, in order (for the retry paths). */
  readonly runFailures: string[] = [];
  /** Awaited inside `run` before the container exists (to race a relist against a start). */
  beforeRun: (() => Promise<void>) | undefined;
  private nextPid = 1000;
  private listeners = new Set<(e: RuntimeEvent) => void>();

  async version(): Promise<string> { return '1.6.20-fake'; }
  async listImages(): Promise<string[]> { return [...this.images]; }
  async importImage(file: string): Promise<string[]> { this.calls.push(`import ${file}`); return []; }
  async pullImage(ref: string): Promise<void> {
    this.calls.push(`pull ${ref}`);
    throw new RuntimeError(`pulling "${ref}" failed: no network`);
  }
  async imageConfig(): Promise<ImageConfig> { return { entrypoint: ['/entry'], cmd: ['default'], env: [], workingDir: '/' }; }

  async run(c: ContainerConfig): Promise<number> {
    this.calls.push(`run ${c.id}`);
    const failure = this.runFailures.shift();
    if (failure) throw new RuntimeError(`starting container "${c.id}" failed: ${failure}`);
    await this.beforeRun?.();
    if (this.containers.has(c.id)) throw new RuntimeError(`starting container "${c.id}" failed: container "${c.id}" already exists`);
    this.containers.set(c.id, { config: c, labels: { ...c.labels } });
    if (c.args[0] && this.missingBinaries.has(c.args[0])) {
      throw new RuntimeError(`starting container "${c.id}" failed: failed to create shim task: OCI runtime create failed: exec: "${c.args[0]}": executable file not found in $PATH: unknown`);
    }
    const pid = this.nextPid++;
    this.containers.get(c.id)!.task = { pid, status: 'RUNNING' };
    return pid;
  }

  /** The task exits with `code` and containerd emits the event (unless `emit` is false: a lost event). */
  exit(id: string, code: number, emit = true): void {
    const t = this.containers.get(id)?.task;
    if (!t || t.status !== 'RUNNING') return;
    t.status = 'STOPPED';
    t.exitCode = code;
    const e: RuntimeEvent = { type: 'exit', id, pid: t.pid, exitCode: code, exitedAt: new Date().toISOString() };
    if (emit) for (const l of this.listeners) l(e);
  }

  /**
   * The kernel OOM-kills the task: its cgroup counts the kill and it exits with 137. Here the
   * stream's `oom` event comes after the exit, as it can on a busy node; with `emit` false neither
   * event arrives and only a relist finds the exit.
   */
  oomKill(id: string, emit = true): void {
    const t = this.containers.get(id)?.task;
    if (!t || t.status !== 'RUNNING') return;
    t.oomKills = (t.oomKills ?? 0) + 1;
    this.exit(id, 137, emit);
    if (emit) for (const l of this.listeners) l({ type: 'oom', id });
  }

  oomKilled(id: string): boolean {
    return (this.containers.get(id)?.task?.oomKills ?? 0) > 0;
  }

  async kill(id: string, signal: string): Promise<void> {
    this.calls.push(`kill ${id} ${signal}`);
    if (signal === 'SIGKILL') this.exit(id, 137);
    else if (signal === 'SIGTERM' && this.sigtermExitCode !== undefined) this.exit(id, this.sigtermExitCode);
  }

  /** Answers `execInContainer` (probes, hooks); default: exit code 0. */
  execHandler: (id: string, argv: readonly string[]) => ExecOutcome = () => ({ exitCode: 0, output: '', timedOut: false });

  cgroupPath(id: string): string { return `/fake/${id}`; }

  async execInContainer(id: string, argv: readonly string[]): Promise<ExecOutcome> {
    this.calls.push(`exec ${id} ${argv.join(' ')}`);
    return this.execHandler(id, argv);
  }

  async deleteTask(id: string): Promise<number | undefined> {
    this.calls.push(`delete-task ${id}`);
    const c = this.containers.get(id);
    if (!c?.task) return undefined;
    if (c.task.status === 'RUNNING') throw new RuntimeError(`deleting task "${id}" failed: task must be stopped before deletion`);
    const code = c.task.exitCode;
    delete c.task;
    return code;
  }

  async deleteContainer(id: string): Promise<void> {
    this.calls.push(`delete ${id}`);
    this.containers.delete(id);
  }

  async removeSnapshot(key: string): Promise<void> {
    this.calls.push(`remove-snapshot ${key}`);
  }

  async setLabels(id: string, l: Record<string, string>): Promise<void> {
    const c = this.containers.get(id);
    if (c) Object.assign(c.labels, l);
  }

  async listContainers(): Promise<string[]> { return [...this.containers.keys()]; }

  async containerInfo(id: string): Promise<ContainerInfo | undefined> {
    const c = this.containers.get(id);
    return c ? { id, image: c.config.image, labels: { ...c.labels }, createdAt: '' } : undefined;
  }

  async listTasks(): Promise<TaskInfo[]> {
    return [...this.containers].filter(([, c]) => c.task).map(([id, c]) => ({ id, pid: c.task!.pid, status: c.task!.status }));
  }

  events(onEvent: (e: RuntimeEvent) => void): { stop(): void } {
    this.listeners.add(onEvent);
    return { stop: () => { this.listeners.delete(onEvent); } };
  }

  runningIds(): string[] {
    return [...this.containers].filter(([, c]) => c.task?.status === 'RUNNING').map(([id]) => id);
  }
}

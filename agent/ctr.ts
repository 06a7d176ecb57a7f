// `Runtime` over containerd's `ctr` CLI (via the Exec seam). Every call names the socket and the
// namespace explicitly, so several agents (tests, `k8ts lab`) can share a machine.
//
// Design notes: driving containerd through its CLI costs a process per operation (~70 ms for
// `ctr run -d`, measured), which is why the agent batches what it can (one `tasks ls` per relist)
// and learns about exits from one long-lived `ctr events` stream rather than by polling. The gRPC
// API would avoid the processes but pulls in a protobuf client for a surface ctr already covers.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { systemExec, type Exec } from '../kernel/exec.js';
import { logWriterUri } from './logs-writer.js';
import { CgroupFs } from './stats-reader.js';
import { parseContainerInfo, parseDeleteExitCode, parseEventLine, parseQuietList, parseTaskList, runFailureMessage } from './ctr-parse.js';
import { RuntimeError, type ContainerConfig, type ContainerInfo, type ExecOutcome, type ImageConfig, type Runtime, type RuntimeEvent, type TaskInfo } from './runtime.js';

export interface CtrOptions {
  address: string;
  namespace: string;
  ctr?: string;
  exec?: Exec;
}

export function ctrRunArgs(c: ContainerConfig): string[] {
  const a = ['run', '-d'];
  if (c.logPath) a.push('--log-uri', c.logWriter ? logWriterUri(c.logWriter, c.logPath) : `file://${c.logPath}`);
  else a.push('--null-io');
  for (const [k, v] of Object.entries(c.labels)) a.push('--label', `${k}=${v}`);
  for (const e of c.env) a.push('--env', e);
  if (c.cwd) a.push('--cwd', c.cwd);
  for (const m of c.mounts) a.push('--mount', `type=bind,src=${m.source},dst=${m.destination},options=rbind:${m.readOnly ? 'ro' : 'rw'}`);
  if (c.hostNetwork) a.push('--net-host');
  else if (c.netnsPath) a.push('--with-ns', `network:${c.netnsPath}`);
  if (c.utsPath) a.push('--with-ns', `uts:${c.utsPath}`);
  if (c.memoryLimitBytes !== undefined) a.push('--memory-limit', String(c.memoryLimitBytes));
  if (c.cpuQuota !== undefined && c.cpuPeriod !== undefined) a.push('--cpu-quota', String(c.cpuQuota), '--cpu-period', String(c.cpuPeriod));
  if (c.cpuShares !== undefined) a.push('--cpu-shares', String(c.cpuShares));
  if (c.privileged) a.push('--privileged');
  for (const [k, v] of Object.entries(c.annotations ?? {})) a.push('--annotation', `${k}=${v}`);
  if (c.runcBinary) a.push('--runc-binary', c.runcBinary);
  a.push(c.image, c.id, ...c.args);
  return a;
}

export class CtrRuntime implements Runtime {
  private readonly exec: Exec;
  private readonly ctr: string;
  private readonly imageConfigs = new Map<string, ImageConfig>();
  private readonly cgroups = new CgroupFs();

  constructor(private readonly opts: CtrOptions) {
    this.exec = opts.exec ?? systemExec;
    this.ctr = opts.ctr ?? 'ctr';
  }

  private base(): string[] {
    return ['--address', this.opts.address, '--namespace', this.opts.namespace];
  }

  private async call(args: string[], what: string, timeoutMs = 60_000): Promise<string> {
    const r = await this.exec.run(this.ctr, [...this.base(), ...args], { timeoutMs });
    if (r.exitCode !== 0) throw new RuntimeError(`${what} failed: ${runFailureMessage(r.stderr) || `exit code ${r.exitCode}`}`, r.stderr);
    return r.stdout;
  }

  /**
   * The command line of `ctr tasks exec` for the kubelet API's exec (it runs the process itself);
   * `logUri` sends the output there instead of through ctr (agent/exec.ts).
   */
  execCommand(id: string, execId: string, argv: readonly string[], tty: boolean, user?: string, logUri?: string): { file: string; args: string[] } {
    return { file: this.ctr, args: [...this.base(), 'tasks', 'exec', '--exec-id', execId, ...(tty ? ['--tty'] : []), ...(user ? ['--user', user] : []), ...(logUri ? ['--log-uri', logUri] : []), id, ...argv] };
  }

  async version(): Promise<string> {
    const out = await this.call(['version'], 'ctr version', 10_000);
    const server = /Server:[\s\S]*?Version:\s*(\S+)/.exec(out);
    return server?.[1] ?? '';
  }

  async listImages(): Promise<string[]> {
    return parseQuietList(await this.call(['images', 'ls', '-q'], 'listing images'));
  }

  async importImage(file: string): Promise<string[]> {
    const before = new Set(await this.listImages());
    await this.call(['images', 'import', '--all-platforms', file], `importing "${file}"`, 600_000);
    const after = await this.listImages();
    const added = after.filter(i => !before.has(i));
    return added.length ? added : after;
  }

  async pullImage(ref: string, opts: { plainHttp: boolean }): Promise<void> {
    await this.call(['images', 'pull', ...(opts.plainHttp ? ['--plain-http'] : []), ref], `pulling "${ref}"`, 600_000);
  }

  async imageConfig(ref: string): Promise<ImageConfig> {
    const cached = this.imageConfigs.get(ref);
    if (cached) return cached;
    // `images ls` gives the target digest; the manifest (or the index's amd64 entry) names the config.
    const ls = await this.call(['images', 'ls', `name==${ref}`], `reading image "${ref}"`);
    const row = ls.split('\n').slice(1).map(l => l.trim().split(/\s+/)).find(c => c[0] === ref);
    if (!row?.[2]) throw new RuntimeError(`image "${ref}" is not present`);
    let doc = JSON.parse(await this.call(['content', 'get', row[2]], 'reading a manifest')) as { config?: { digest: string }; manifests?: { digest: string; platform?: { architecture?: string; os?: string } }[] };
    if (doc.manifests) {
      const m = doc.manifests.find(x => x.platform?.architecture === 'amd64' && x.platform.os === 'linux') ?? doc.manifests[0];
      if (!m) throw new RuntimeError(`image "${ref}" has an empty index`);
      doc = JSON.parse(await this.call(['content', 'get', m.digest], 'reading a manifest')) as typeof doc;
    }
    if (!doc.config) throw new RuntimeError(`image "${ref}" has no config`);
    const cfg = JSON.parse(await this.call(['content', 'get', doc.config.digest], 'reading an image config')) as { config?: { Entrypoint?: string[] | null; Cmd?: string[] | null; Env?: string[] | null; WorkingDir?: string; User?: string } };
    const out: ImageConfig = { entrypoint: cfg.config?.Entrypoint ?? [], cmd: cfg.config?.Cmd ?? [], env: cfg.config?.Env ?? [], workingDir: cfg.config?.WorkingDir ?? '', user: cfg.config?.User ?? '' };
    this.imageConfigs.set(ref, out);
    return out;
  }

  /**
   * containerd's images.Size for this platform, which its CRI reports as the image size: the
   * bytes of the index (if any) and the manifest, plus the config and layer sizes the manifest
   * lists (compressed, as stored).
   */
  async imageSize(ref: string): Promise<number | undefined> {
    const ls = await this.call(['images', 'ls', `name==${ref}`], `reading image "${ref}"`);
    const row = ls.split('\n').slice(1).map(l => l.trim().split(/\s+/)).find(c => c[0] === ref);
    if (!row?.[2]) return undefined;
    type Doc = { config?: { size?: number }; layers?: { size?: number }[]; manifests?: { digest: string; platform?: { architecture?: string; os?: string } }[] };
    let body = await this.call(['content', 'get', row[2]], 'reading a manifest');
    let total = Buffer.byteLength(body);
    let doc = JSON.parse(body) as Doc;
    if (doc.manifests) {
      const arch = process.arch === 'x64' ? 'amd64' : process.arch;
      const m = doc.manifests.find(x => x.platform?.architecture === arch && x.platform.os === 'linux') ?? doc.manifests[0];
      if (!m) return undefined;
      body = await this.call(['content', 'get', m.digest], 'reading a manifest');
      total += Buffer.byteLength(body);
      doc = JSON.parse(body) as Doc;
    }
    return total + (doc.config?.size ?? 0) + (doc.layers ?? []).reduce((sum, l) => sum + (l.size ?? 0), 0);
  }

  async run(c: ContainerConfig): Promise<number> {
    // The pid is left to the next relist: asking for it here would cost another process per start.
    await this.call(ctrRunArgs(c), `starting container "${c.id}"`);
    return 0;
  }

  async kill(id: string, signal: string): Promise<void> {
    const r = await this.exec.run(this.ctr, [...this.base(), 'tasks', 'kill', '--signal', signal, id], { timeoutMs: 10_000 });
    // A task that is already gone or stopped is fine: the goal is that it is not running.
    if (r.exitCode !== 0 && !/not found|process already finished|no such process/i.test(r.stderr)) {
      throw new RuntimeError(`signalling "${id}" failed: ${runFailureMessage(r.stderr)}`, r.stderr);
    }
  }

  cgroupPath(id: string): string {
    // `ctr run` without --cgroup: containerd's default spec puts the task at /<namespace>/<id>.
    return `/${this.opts.namespace}/${id}`;
  }

  oomKilled(id: string): boolean {
    return (this.cgroups.oomKills(this.cgroupPath(id)) ?? 0) > 0;
  }

  async execInContainer(id: string, argv: readonly string[], timeoutMs: number, user?: string): Promise<ExecOutcome> {
    const execId = `k8ts-${randomBytes(6).toString('hex')}`;
    const r = await this.exec.run(this.ctr, [...this.base(), 'tasks', 'exec', '--exec-id', execId, ...(user ? ['--user', user] : []), id, ...argv], { timeoutMs });
    return { exitCode: r.exitCode, output: (r.stdout + r.stderr).slice(0, 10_240), timedOut: r.timedOut === true };
  }

  async deleteTask(id: string): Promise<number | undefined> {
    const r = await this.exec.run(this.ctr, [...this.base(), 'tasks', 'delete', id], { timeoutMs: 30_000 });
    if (r.exitCode !== 0) {
      if (/not found/i.test(r.stderr)) return undefined;
      throw new RuntimeError(`deleting task "${id}" failed: ${runFailureMessage(r.stderr)}`, r.stderr);
    }
    return parseDeleteExitCode(r.stderr);
  }

  async deleteContainer(id: string): Promise<void> {
    const r = await this.exec.run(this.ctr, [...this.base(), 'containers', 'delete', id], { timeoutMs: 30_000 });
    if (r.exitCode !== 0 && !/not found/i.test(r.stderr)) throw new RuntimeError(`deleting container "${id}" failed: ${runFailureMessage(r.stderr)}`, r.stderr);
  }

  async removeSnapshot(key: string): Promise<void> {
    const r = await this.exec.run(this.ctr, [...this.base(), 'snapshots', 'rm', key], { timeoutMs: 30_000 });
    if (r.exitCode !== 0 && !/not found|does not exist/i.test(r.stderr)) throw new RuntimeError(`removing snapshot "${key}" failed: ${runFailureMessage(r.stderr)}`, r.stderr);
  }

  async setLabels(id: string, l: Record<string, string>): Promise<void> {
    await this.call(['containers', 'label', id, ...Object.entries(l).map(([k, v]) => `${k}=${v}`)], `labelling "${id}"`);
  }

  async listContainers(): Promise<string[]> {
    return parseQuietList(await this.call(['containers', 'ls', '-q'], 'listing containers'));
  }

  async containerInfo(id: string): Promise<ContainerInfo | undefined> {
    const r = await this.exec.run(this.ctr, [...this.base(), 'containers', 'info', id], { timeoutMs: 30_000 });
    if (r.exitCode !== 0) return undefined;
    return parseContainerInfo(r.stdout);
  }

  async listTasks(): Promise<TaskInfo[]> {
    return parseTaskList(await this.call(['tasks', 'ls'], 'listing tasks'));
  }

  events(onEvent: (e: RuntimeEvent) => void, onEnd: (err: unknown) => void): { stop(): void } {
    const proc = spawn(this.ctr, [...this.base(), 'events'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let rest = '';
    let stopped = false;
    let stderr = '';
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      rest += chunk;
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        const ev = parseEventLine(line, this.opts.namespace);
        if (ev) onEvent(ev);
      }
    });
    proc.stderr.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-2000); });
    proc.on('error', err => { if (!stopped) onEnd(err); });
    proc.on('exit', code => { if (!stopped) onEnd(new RuntimeError(`ctr events ended with ${code}: ${stderr.trim()}`)); });
    return { stop: () => { stopped = true; proc.kill('SIGTERM'); } };
  }
}

// Real etcd for tests: 1 or 3 members on free loopback ports, each with a temp data dir, started
// from the distribution's binary (/usr/bin/etcd from Debian's etcd-server, or $ETCD_BIN).
//
// Every cluster registers itself so that a test which fails before its own teardown still leaves
// nothing behind: `stopAllEtcdClusters()` (call it from afterAll) and a process 'exit' hook kill
// the members with SIGKILL (by pid, nothing else) and remove the dirs.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ETCD_BIN = process.env['ETCD_BIN'] ?? '/usr/bin/etcd';

export function etcdAvailable(): boolean {
  return existsSync(ETCD_BIN);
}

/** A port nobody listens on right now (the kernel's choice for port 0 on 127.0.0.1). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface EtcdMember {
  name: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  logFile: string;
  /** `127.0.0.1:port`, as the store's endpoint list wants it. */
  endpoint: string;
  process?: ChildProcess;
}

export interface EtcdClusterOptions {
  members?: 1 | 3;
  /** Seconds to wait for health (default 20). */
  startTimeoutSeconds?: number;
  /** Extra flags for every member. */
  extraArgs?: string[];
}

const live = new Set<EtcdCluster>();
let exitHookInstalled = false;

export class EtcdCluster {
  readonly members: EtcdMember[];
  private stopped = false;

  private constructor(readonly dir: string, members: EtcdMember[], private readonly options: EtcdClusterOptions) {
    this.members = members;
  }

  static async start(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
    if (!etcdAvailable()) throw new Error(`etcd is not installed at "${ETCD_BIN}" (apt-get install etcd-server, or set ETCD_BIN)`);
    const dir = mkdtempSync(join(tmpdir(), 'k8ts-etcd-'));
    const members: EtcdMember[] = [];
    for (let i = 0; i < (options.members ?? 1); i++) {
      const clientPort = await freePort();
      const peerPort = await freePort();
      members.push({
        name: `m${i}`, clientPort, peerPort, dataDir: join(dir, `m${i}`), logFile: join(dir, `m${i}.log`),
        endpoint: `127.0.0.1:${clientPort}`,
      });
    }
    const cluster = new EtcdCluster(dir, members, options);
    live.add(cluster);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', () => { for (const c of live) c.stopSync(); });
    }
    try {
      for (const m of members) cluster.spawnMember(m, 'new');
      await cluster.waitHealthy(options.startTimeoutSeconds ?? 20);
    } catch (err) {
      cluster.stopSync();
      throw err;
    }
    return cluster;
  }

  /** `127.0.0.1:p1,127.0.0.1:p2,...` */
  get endpoints(): string[] {
    return this.members.map(m => m.endpoint);
  }

  /** The `--datastore-endpoint` form: `etcd://host:port,host:port`. */
  get url(): string {
    return `etcd://${this.endpoints.join(',')}`;
  }

  private spawnMember(m: EtcdMember, state: 'new' | 'existing'): void {
    const initialCluster = this.members.map(x => `${x.name}=http://127.0.0.1:${x.peerPort}`).join(',');
    const args = [
      '--name', m.name,
      '--data-dir', m.dataDir,
      '--listen-client-urls', `http://127.0.0.1:${m.clientPort}`,
      '--advertise-client-urls', `http://127.0.0.1:${m.clientPort}`,
      '--listen-peer-urls', `http://127.0.0.1:${m.peerPort}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peerPort}`,
      '--initial-cluster', initialCluster,
      '--initial-cluster-state', state,
      '--initial-cluster-token', `k8ts-test-${process.pid}-${this.dir.slice(-6)}`,
      '--heartbeat-interval', '50',
      '--election-timeout', '500',
      ...(this.options.extraArgs ?? []),
    ];
    const log = createWriteStream(m.logFile, { flags: 'a' });
    // Not detached: a Ctrl-C on the test run reaches the members too.
    const child = spawn(ETCD_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    child.on('exit', () => { if (m.process === child) delete m.process; });
    m.process = child;
  }

  private async memberHealthy(m: EtcdMember): Promise<boolean> {
    try {
      const res = await fetch(`http://${m.endpoint}/health`, { signal: AbortSignal.timeout(1000) });
      const body = await res.json() as { health?: string };
      return body.health === 'true';
    } catch {
      return false;
    }
  }

  /** Waits until every running member reports healthy (which needs a leader). */
  async waitHealthy(timeoutSeconds = 20): Promise<void> {
    const deadline = Date.now() + timeoutSeconds * 1000;
    for (;;) {
      const running = this.members.filter(m => m.process);
      const states = await Promise.all(running.map(m => this.memberHealthy(m)));
      if (running.length > 0 && states.every(Boolean)) return;
      if (Date.now() > deadline) {
        const logs = running.map(m => `--- ${m.name}\n${tail(m.logFile)}`).join('\n');
        throw new Error(`etcd members did not become healthy in ${timeoutSeconds} s\n${logs}`);
      }
      await new Promise(r => setTimeout(r, 100));
    }
  }

  /** SIGKILL one member and wait until it is gone. */
  async kill(index: number): Promise<void> {
    const m = this.member(index);
    const child = m.process;
    if (!child) return;
    const exited = new Promise<void>(resolve => child.once('exit', () => resolve()));
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    delete m.process;
  }

  /** Starts a killed member again on its data dir and waits for the cluster to be healthy. */
  async restart(index: number): Promise<void> {
    const m = this.member(index);
    if (m.process) throw new Error(`etcd member ${m.name} is still running`);
    this.spawnMember(m, 'existing');
    await this.waitHealthy(this.options.startTimeoutSeconds ?? 20);
  }

  private member(index: number): EtcdMember {
    const m = this.members[index];
    if (!m) throw new Error(`No etcd member ${index} (the cluster has ${this.members.length})`);
    return m;
  }

  /** Kills every member, waits for them to exit, removes the data. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    await Promise.all(this.members.map((_, i) => this.kill(i)));
    this.stopSync();
  }

  /** The synchronous part of stop, safe in an 'exit' hook. */
  stopSync(): void {
    for (const m of this.members) {
      const child = m.process;
      if (child && child.exitCode === null && child.signalCode === null) {
        try { child.kill('SIGKILL'); } catch { /* already gone */ }
      }
    }
    if (!this.stopped) rmSync(this.dir, { recursive: true, force: true });
    this.stopped = true;
    live.delete(this);
  }
}

/** Tears down every cluster this process started and has not stopped yet. */
export async function stopAllEtcdClusters(): Promise<void> {
  await Promise.all([...live].map(c => c.stop()));
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}

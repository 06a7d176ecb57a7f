// End-to-end harness: runs a real `k8ts server` built from this checkout (./bin/k8ts) on a free
// loopback port with its own data dir, and the real pinned kubectl against it. Everything it
// starts is stopped and removed in `stop()`, which tests call from afterAll even on failure.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Agent, request as httpsRequest } from 'node:https';
import { execa } from 'execa';
import YAML from 'yaml';

export interface CommandResult { exitCode: number; stdout: string; stderr: string }

/** The checkout: the nearest folder above this file with a package.json (works from dist/ too). */
export const repoRoot = (() => {
  let dir = import.meta.dirname ?? new URL('.', import.meta.url).pathname;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = resolve(dir, '..');
    if (up === dir) throw new Error('cannot find the repository root above the test harness');
    dir = up;
  }
  return dir;
})();
export const k8tsBin = join(repoRoot, 'bin/k8ts');

export function kubectlPath(minor = 32): string {
  return `/usr/lib/google-cloud-sdk/bin/kubectl.1.${minor}`;
}

export { eventually } from '../poll.js';

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolvePort(port));
    });
  });
}

export interface RequestLogEntry { method: string; path: string; query: string; code: number; ua?: string; accept?: string }

export class TestServer {
  readonly dataDir: string;
  readonly cacheDir: string;
  port = 0;
  private proc: ChildProcess | undefined;
  /** Server output in chunks: joined only when read, so a busy server costs the tests little. */
  private chunks: string[] = [];
  private get output(): string { return this.chunks.join(''); }

  private capturing = true;

  /**
   * `controlPlane: false` (the default) starts the server with `--disable-controller-manager
   * --disable-scheduler`, so API tests see exactly what they wrote and nothing reconciles behind
   * them; tests of the controllers ask for them. `controllers: 'namespace'` runs just those
   * controllers (`--controllers`), for API tests that delete namespaces.
   */
  constructor(private readonly extraArgs: string[] = [], dataDir?: string, private readonly options: { logLevel?: string; controlPlane?: boolean; controllers?: string } = {}) {
    this.dataDir = dataDir ?? mkdtempSync(join(tmpdir(), 'k8ts-e2e-'));
    this.cacheDir = mkdtempSync(join(tmpdir(), 'k8ts-kubectl-cache-'));
  }

  get kubeconfig(): string { return join(this.dataDir, 'kubeconfig.yaml'); }
  get url(): string { return `https://127.0.0.1:${this.port}`; }
  get logs(): string { return this.output; }

  /** Starts the server and resolves once it logs that it is ready. */
  async start(timeoutMs = 30_000): Promise<void> {
    if (!this.port) this.port = await freePort();
    this.chunks = [];
    const proc = spawn(k8tsBin, ['server', '--data-dir', this.dataDir, '--https-port', String(this.port), '--bind-address', '127.0.0.1', '--disable-agent', '--log-format', 'json', ...(this.options.controlPlane ? [] : [...(this.options.controllers ? [`--controllers=${this.options.controllers}`] : ['--disable-controller-manager']), '--disable-scheduler']), ...this.extraArgs], {
      // debug logs one line per request: tests read them back with requestLog().
      env: { ...process.env, K8TS_LOG_LEVEL: this.options.logLevel ?? 'debug' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    await new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(() => reject(new Error(`server not ready after ${timeoutMs} ms:\n${this.output.slice(-4000)}`)), timeoutMs);
      let tail = '';
      const onData = (chunk: Buffer) => {
        const text = chunk.toString();
        if (this.capturing) this.chunks.push(text);
        if ((tail + text).includes('"msg":"k8ts server is ready"')) { clearTimeout(timer); resolveReady(); }
        tail = text.slice(-64);
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', code => { clearTimeout(timer); reject(new Error(`server exited with ${code}:\n${this.output.slice(-4000)}`)); });
    });
  }

  /** Sends a signal and waits for the process to exit. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.agent?.destroy(); // its keep-alive sockets die with the server
    this.agent = undefined;
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>(resolveExit => {
      proc.once('exit', () => resolveExit());
      proc.kill(signal);
    });
    this.proc = undefined;
  }

  get pid(): number | undefined { return this.proc?.pid; }

  /** Drops the server's output from now on (benchmarks: keeping it costs the client time). */
  discardOutput(): void { this.capturing = false; this.chunks = []; }

  async stop(): Promise<void> {
    this.agent?.destroy();
    this.agent = undefined;
    await this.kill('SIGKILL');
    rmSync(this.dataDir, { recursive: true, force: true });
    rmSync(this.cacheDir, { recursive: true, force: true });
  }

  /** Every request the server logged (it logs each one at debug level with its status code). */
  requestLog(): RequestLogEntry[] {
    const entries: RequestLogEntry[] = [];
    for (const line of this.output.split('\n')) {
      if (!line.includes('"msg":"request"')) continue;
      try { entries.push(JSON.parse(line) as RequestLogEntry); } catch { /* partial line */ }
    }
    return entries;
  }

  private agent: Agent | undefined;

  /** The admin client certificate from the kubeconfig the server wrote, on a keep-alive agent. */
  private adminAgent(): Agent {
    if (this.agent) return this.agent;
    const kc = YAML.parse(readFileSync(this.kubeconfig, 'utf8')) as {
      clusters: { cluster: { 'certificate-authority-data': string } }[];
      users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
    };
    const b64 = (s: string) => Buffer.from(s, 'base64');
    this.agent = new Agent({
      keepAlive: true, maxSockets: 32,
      ca: b64(kc.clusters[0]!.cluster['certificate-authority-data']),
      cert: b64(kc.users[0]!.user['client-certificate-data']),
      key: b64(kc.users[0]!.user['client-key-data']),
    });
    return this.agent;
  }

  /** One API request as the admin; resolves with the status and parsed JSON body. */
  request(method: string, path: string, body?: unknown, port = this.port): Promise<{ status: number; body: unknown; headers: Record<string, string | string[] | undefined> }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return this.raw(method, path, { ...(payload !== undefined ? { body: payload, headers: { 'Content-Type': 'application/json' } } : {}), port });
  }

  /** A request with full control: raw body, headers, another agent (identity) or none. */
  raw(method: string, path: string, opts: { body?: string | Buffer; headers?: Record<string, string>; agent?: Agent; port?: number } = {}): Promise<{ status: number; body: unknown; headers: Record<string, string | string[] | undefined> }> {
    return new Promise((resolveRequest, reject) => {
      const req = httpsRequest({
        host: '127.0.0.1', port: opts.port ?? this.port, path, method, agent: opts.agent ?? this.adminAgent(),
        headers: { Accept: 'application/json', ...(opts.body !== undefined ? { 'Content-Length': Buffer.byteLength(opts.body) } : {}), ...(opts.headers ?? {}) },
      }, res => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try { parsed = JSON.parse(text); } catch { /* not JSON */ }
          resolveRequest({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      if (opts.body !== undefined) req.write(opts.body);
      req.end();
    });
  }

  /** The cluster CA, for agents of other identities. */
  caPem(): Buffer {
    const kc = YAML.parse(readFileSync(this.kubeconfig, 'utf8')) as { clusters: { cluster: { 'certificate-authority-data': string } }[] };
    return Buffer.from(kc.clusters[0]!.cluster['certificate-authority-data'], 'base64');
  }

  adminToken(): string | undefined {
    const f = join(this.dataDir, 'admin-token');
    return existsSync(f) ? readFileSync(f, 'utf8').trim() : undefined;
  }

  /** Runs the pinned kubectl against this server; never throws on a non-zero exit. */
  async kubectl(args: string[], opts: { input?: string; minor?: number; timeoutMs?: number } = {}): Promise<CommandResult> {
    const r = await execa(kubectlPath(opts.minor), ['--kubeconfig', this.kubeconfig, '--cache-dir', this.cacheDir, ...args], {
      reject: false,
      timeout: opts.timeoutMs ?? 60_000,
      ...(opts.input !== undefined ? { input: opts.input } : {}),
    });
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  }
}

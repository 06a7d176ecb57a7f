// A CNI client (spec 1.0): reads the first network configuration list in the conf dir (writing a
// default bridge + host-local one when the dir has none), and runs each plugin of the chain with
// ADD in order (passing prevResult along) and DEL in reverse. Plugins are looked up in the bin dirs
// (/opt/cni/bin, /usr/lib/cni). With `hostNetns` set, plugins run inside that namespace instead of
// the agent's (`ip netns exec`): the bridge and host-side veths then live there, which is how tests
// and `k8ts lab` keep the host's own network untouched.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemExec, type Exec, type ExecResult } from '../kernel/exec.js';
import type { NetnsCli } from '../kernel/netns-cli.js';

export interface CniOptions {
  confDir: string;
  binDirs: string[];
  /** Run plugins inside this named network namespace (tests, lab); undefined: the agent's own. */
  hostNetns?: string;
  exec?: Exec;
  netns?: NetnsCli;
}

export interface NetConfList {
  cniVersion: string;
  name: string;
  plugins: Record<string, unknown>[];
}

export interface CniResult {
  cniVersion?: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { address: string; gateway?: string; interface?: number }[];
  [k: string]: unknown;
}

/** A CNI port mapping (the `portMappings` capability), as upstream's kubelet passes hostPorts. */
export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  hostIP?: string;
}

/** Capability arguments by capability name (`portMappings`, …). */
export type RuntimeConfig = { portMappings?: PortMapping[] } & Record<string, unknown>;

/** The `runtimeConfig` a plugin gets: only the capabilities it declares (CNI conventions). */
export function capabilityArgs(plugin: Record<string, unknown>, rc: RuntimeConfig): Record<string, unknown> | undefined {
  const caps = plugin.capabilities as Record<string, unknown> | undefined;
  if (!caps) return undefined;
  const out = Object.fromEntries(Object.entries(rc).filter(([k, v]) => caps[k] === true && v !== undefined));
  return Object.keys(out).length ? out : undefined;
}

export class CniError extends Error {
  readonly code = 'CniFailed';
  constructor(message: string) {
    super(message);
    this.name = 'CniError';
  }
}

/**
 * The default network: a bridge with host-local IPAM over the node's pod CIDR, chained with the
 * reference `portmap` plugin for hostPorts (capability `portMappings`; a pod without hostPorts
 * passes through it untouched).
 */
export function defaultConfList(opts: { name?: string; bridge: string; podCIDR: string; ipamDataDir?: string; ipMasq?: boolean; portMap?: boolean }): NetConfList {
  return {
    cniVersion: '1.0.0',
    name: opts.name ?? 'k8ts',
    plugins: [{
      type: 'bridge', bridge: opts.bridge, isGateway: true, ipMasq: opts.ipMasq ?? false, hairpinMode: true,
      ipam: {
        type: 'host-local', ranges: [[{ subnet: opts.podCIDR }]], routes: [{ dst: '0.0.0.0/0' }],
        ...(opts.ipamDataDir ? { dataDir: opts.ipamDataDir } : {}),
      },
    }, ...(opts.portMap === false ? [] : [{ type: 'portmap', capabilities: { portMappings: true }, snat: true }])],
  };
}

/** The first IPv4 address of a result, without its prefix length. */
export function resultIPv4(r: CniResult | undefined): string | undefined {
  const a = r?.ips?.find(ip => !ip.address.includes(':'))?.address;
  return a?.split('/')[0];
}

/** Parses a conf dir entry: a `.conflist`, or a single-plugin `.conf`/`.json` wrapped into a list. */
export function parseNetConf(text: string, file: string): NetConfList {
  const raw = JSON.parse(text) as Partial<NetConfList> & Record<string, unknown>;
  if (Array.isArray(raw.plugins)) return { cniVersion: String(raw.cniVersion ?? '1.0.0'), name: String(raw.name ?? ''), plugins: raw.plugins };
  if (typeof raw.type === 'string') {
    const { cniVersion, name, ...plugin } = raw;
    return { cniVersion: String(cniVersion ?? '1.0.0'), name: String(name ?? ''), plugins: [plugin] };
  }
  throw new CniError(`network configuration "${file}" has neither "plugins" nor "type"`);
}

export class CniClient {
  private readonly exec: Exec;

  constructor(private readonly opts: CniOptions) {
    this.exec = opts.exec ?? systemExec;
  }

  /** Writes `conf` as the conf dir's network unless a network configuration is already there. */
  ensureDefaultConfig(conf: NetConfList, file = '10-k8ts.conflist'): void {
    mkdirSync(this.opts.confDir, { recursive: true });
    if (this.confFiles().length > 0) return;
    writeFileSync(join(this.opts.confDir, file), JSON.stringify(conf, null, 2));
  }

  private confFiles(): string[] {
    if (!existsSync(this.opts.confDir)) return [];
    return readdirSync(this.opts.confDir).filter(f => /\.(conflist|conf|json)$/.test(f)).sort();
  }

  network(): NetConfList {
    const file = this.confFiles()[0];
    if (!file) throw new CniError(`no network configuration in "${this.opts.confDir}"`);
    return parseNetConf(readFileSync(join(this.opts.confDir, file), 'utf8'), file);
  }

  private pluginPath(type: string): string {
    for (const d of this.opts.binDirs) if (existsSync(join(d, type))) return join(d, type);
    throw new CniError(`CNI plugin "${type}" not found in ${this.opts.binDirs.join(', ')}`);
  }

  private async invoke(plugin: Record<string, unknown>, net: NetConfList, command: 'ADD' | 'DEL' | 'CHECK', containerId: string, netnsPath: string, ifName: string, prevResult?: CniResult, runInHost = true, runtimeConfig: RuntimeConfig = {}): Promise<CniResult | undefined> {
    const type = String(plugin.type);
    const file = this.pluginPath(type);
    const rc = capabilityArgs(plugin, runtimeConfig);
    const conf = { cniVersion: net.cniVersion, name: net.name, ...plugin, ...(rc ? { runtimeConfig: rc } : {}), ...(prevResult ? { prevResult } : {}) };
    const env = {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: netnsPath, CNI_IFNAME: ifName,
      CNI_PATH: this.opts.binDirs.join(':'),
    };
    const input = JSON.stringify(conf);
    let r: ExecResult;
    if (runInHost && this.opts.hostNetns && this.opts.netns) r = await this.opts.netns.execIn(this.opts.hostNetns, file, [], { input, env, timeoutMs: 60_000 });
    else r = await this.exec.run(file, [], { input, env, timeoutMs: 60_000 });
    if (r.exitCode !== 0) {
      let msg = r.stderr.trim() || `exit code ${r.exitCode}`;
      try { const e = JSON.parse(r.stdout) as { msg?: string; details?: string }; if (e.msg) msg = e.msg + (e.details ? `: ${e.details}` : ''); } catch { /* not JSON */ }
      throw new CniError(`CNI ${command} with plugin "${type}" failed: ${msg}`);
    }
    if (command !== 'ADD') return undefined;
    try { return JSON.parse(r.stdout) as CniResult; } catch { throw new CniError(`CNI plugin "${type}" printed no JSON result: ${r.stdout.slice(0, 200)}`); }
  }

  /** Brings up lo in the pod's namespace (the reference `loopback` plugin). */
  async loopback(containerId: string, netnsPath: string): Promise<void> {
    await this.invoke({ type: 'loopback' }, { cniVersion: '1.0.0', name: 'lo', plugins: [] }, 'ADD', containerId, netnsPath, 'lo', undefined, false);
  }

  /** ADD through the chain; resolves with the final result. */
  async add(containerId: string, netnsPath: string, ifName = 'eth0', runtimeConfig: RuntimeConfig = {}): Promise<CniResult> {
    const net = this.network();
    let result: CniResult | undefined;
    for (const p of net.plugins) result = await this.invoke(p, net, 'ADD', containerId, netnsPath, ifName, result, true, runtimeConfig) ?? result;
    return result ?? {};
  }

  /** DEL through the chain in reverse; idempotent as the spec requires of plugins. */
  async del(containerId: string, netnsPath: string, prevResult?: CniResult, ifName = 'eth0', runtimeConfig: RuntimeConfig = {}): Promise<void> {
    const net = this.network();
    for (const p of [...net.plugins].reverse()) await this.invoke(p, net, 'DEL', containerId, netnsPath, ifName, prevResult, true, runtimeConfig);
  }
}

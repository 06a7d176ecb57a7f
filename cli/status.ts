// `k8ts status`: what k8ts is doing on this node, on one screen, read from where an operator would
// look by hand — systemd (the unit and its main pid), config.yaml (role, network and proxy modes),
// the API (this node's Ready condition, its last heartbeat and Lease renewal), the kernel (the
// proxy's nftables table and IPVS virtual servers, through kernel/) and the node network's
// metrics endpoint (kube-proxy's 127.0.0.1:10249: when the proxy and the netplugins last synced).
// Nothing is changed.
//
//   k8ts status [--config FILE] [--kubeconfig FILE] [--node-name NAME] [--netns NAME] [--json]
//
// Design notes: every source is read on its own and a failure is reported in its line, never
// fatal (a broken apiserver is exactly when status is wanted). Collection goes through the small
// `StatusSources` interface and rendering is pure, so both are testable; the real sources are
// `systemSources`. The API is reached with the server's admin kubeconfig when there is one, else as
// an agent does: `server` + `token-file` from config.yaml, acting as the node.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import type { Node } from 'kubernetes-types/core/v1.js';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import { DEFAULT_METRICS_BIND_ADDRESS, parseBindAddress } from '../proxy/metrics-server.js';
import { clientFromKubeconfig, discoverCA, HttpsTransport } from '../api/client/https.js';
import { RestClusterClient } from '../api/client/rest.js';
import { resources } from '../api/client/types.js';
import { IpvsSocket } from '../kernel/ipvs/socket.js';
import { listTable } from '../kernel/nftables/list.js';
import { defaultConfigFile, parseConfigFile, type ConfigValues } from './config-file.js';

export const PROXY_TABLE = 'k8ts-proxy';

export interface UnitStatus { readonly name: string; readonly state: string; readonly pid?: number }
export interface NodeStatus {
  readonly name: string; readonly ready: string; readonly server: string; readonly reason?: string;
  /** The Ready condition's lastHeartbeatTime (the kubelet's status post). */
  readonly heartbeat?: string;
  /** The node Lease's renewTime (the kubelet's heartbeat every 10 s). */
  readonly leaseRenewed?: string;
}
/** Last successful syncs (RFC 3339), from the node network's metrics endpoint. */
export interface SyncStatus {
  readonly address: string;
  readonly proxy?: string;
  /** By netplugin: vxlan, routed, bridge-local, netpol. */
  readonly netplugins: Readonly<Record<string, string>>;
}
export interface NftStatus { readonly table: string; readonly chains: number; readonly rules: number; readonly elements: number }
export interface IpvsStatus { readonly services: number; readonly dests: number }
/** A source that could not be read: its error, shown in its line. */
export interface Failed { readonly error: string }

export interface StatusReport {
  /** The installed unit; undefined: none installed (or no systemd). */
  readonly unit?: UnitStatus | Failed;
  readonly config?: { readonly file: string; readonly values: ConfigValues } | Failed;
  readonly node?: NodeStatus | Failed;
  /** undefined: no table (the proxy runs in another mode, or not at all). */
  readonly nftables?: NftStatus | Failed;
  /** undefined: this kernel has no IPVS. */
  readonly ipvs?: IpvsStatus | Failed;
  readonly sync?: SyncStatus | Failed;
  /** When the report was collected (the reference of "… ago"). */
  readonly at: string;
}

export interface StatusSources {
  unit(): UnitStatus | undefined;
  config(): { file: string; values: ConfigValues } | undefined;
  node(config: ConfigValues): Promise<NodeStatus | undefined>;
  nftables(): Promise<NftStatus | undefined>;
  ipvs(): Promise<IpvsStatus | undefined>;
  /** The node network metrics endpoint's text (undefined: nothing listens there). */
  syncs(config: ConfigValues): Promise<SyncStatus | undefined>;
  now(): number;
}

const failed = (err: unknown): Failed => ({ error: err instanceof Error ? err.message : String(err) });
const isFailed = (x: object): x is Failed => 'error' in x;

/** Reads every source; one that throws is reported as failed, the rest still are read. */
export async function collectStatus(src: StatusSources): Promise<StatusReport> {
  const sync = <T>(f: () => T): T | Failed => { try { return f(); } catch (err) { return failed(err); } };
  const async_ = async <T>(f: () => Promise<T>): Promise<T | Failed> => { try { return await f(); } catch (err) { return failed(err); } };
  const unit = sync(() => src.unit());
  const config = sync(() => src.config());
  const values = config && !isFailed(config) ? config.values : {};
  const [node, nftables, ipvs, syncs] = await Promise.all([async_(() => src.node(values)), async_(() => src.nftables()), async_(() => src.ipvs()), async_(() => src.syncs(values))]);
  return {
    ...(unit ? { unit } : {}), ...(config ? { config } : {}), ...(node ? { node } : {}),
    ...(nftables ? { nftables } : {}), ...(ipvs ? { ipvs } : {}), ...(syncs ? { sync: syncs } : {}),
    at: new Date(src.now()).toISOString(),
  };
}

/** The report as the lines an operator reads. Pure. */
export function renderStatus(r: StatusReport): string {
  const line = (what: string, text: string) => `${what.padEnd(10)}${text}\n`;
  let out = '';
  if (!r.unit) out += line('service', 'no k8ts unit installed (or systemd is not running)');
  else if (isFailed(r.unit)) out += line('service', `unknown: ${r.unit.error}`);
  else out += line('service', `${r.unit.name} ${r.unit.state}${r.unit.pid ? ` (pid ${r.unit.pid})` : ''}`);
  if (!r.config) out += line('config', `none (${defaultConfigFile} is missing): the defaults`);
  else if (isFailed(r.config)) out += line('config', `unreadable: ${r.config.error}`);
  else {
    const v = r.config.values;
    const role = v.server !== undefined ? `agent of ${String(v.server)}` : 'server';
    out += line('config', `${r.config.file}: ${role}, network ${String(v.network ?? 'bridge-local')}, proxy ${v['disable-kube-proxy'] === true ? 'disabled' : String(v['proxy-mode'] ?? 'nftables')}`);
  }
  if (!r.node) out += line('node', 'no kubeconfig and no server in the config: the API was not asked');
  else if (isFailed(r.node)) out += line('node', `API unreachable: ${r.node.error}`);
  else {
    out += line('node', `${r.node.name} Ready=${r.node.ready}${r.node.reason ? ` (${r.node.reason})` : ''}, API ${r.node.server}`);
    out += line('heartbeat', `lease renewed ${ago(r.node.leaseRenewed, r.at)}, status posted ${ago(r.node.heartbeat, r.at)}`);
  }
  if (!r.nftables) out += line('nftables', `no table ip ${PROXY_TABLE}`);
  else if (isFailed(r.nftables)) out += line('nftables', `unreadable: ${r.nftables.error}`);
  else out += line('nftables', `table ip ${r.nftables.table}: ${r.nftables.chains} chains, ${r.nftables.rules} rules, ${r.nftables.elements} set/map elements`);
  if (!r.ipvs) out += line('ipvs', 'not in this kernel');
  else if (isFailed(r.ipvs)) out += line('ipvs', `unreadable: ${r.ipvs.error}`);
  else out += line('ipvs', `${r.ipvs.services} virtual servers, ${r.ipvs.dests} real servers`);
  if (!r.sync) out += line('synced', 'unknown: no node network metrics endpoint answered (no agent or proxy running here?)');
  else if (isFailed(r.sync)) out += line('synced', `unknown: ${r.sync.error}`);
  else {
    const plugins = Object.entries(r.sync.netplugins).map(([p, t]) => `, ${p} ${ago(t, r.at)}`).join('');
    out += line('synced', `proxy ${r.sync.proxy ? ago(r.sync.proxy, r.at) : 'not running'}${plugins} (${r.sync.address})`);
  }
  return out;
}

/** "12s ago" (or minutes, hours) from two RFC 3339 times; "never" when there is none. Pure. */
export function ago(t: string | undefined, now: string): string {
  if (!t) return 'never';
  const s = Math.max(0, Math.round((Date.parse(now) - Date.parse(t)) / 1000));
  if (!Number.isFinite(s)) return `at ${t}`;
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

/** Samples of a Prometheus text exposition, by `name{labels}` exactly as written. Pure. */
export function parsePromText(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(l);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** The last syncs in a scrape of the node network metrics (seconds since the epoch → RFC 3339). Pure. */
export function syncsFromMetrics(address: string, text: string): SyncStatus {
  const iso = (sec: number) => new Date(sec * 1000).toISOString();
  const samples = parsePromText(text);
  const proxy = samples.get('kubeproxy_sync_proxy_rules_last_timestamp_seconds');
  const netplugins: Record<string, string> = {};
  for (const [k, v] of samples) {
    const m = /^k8ts_netplugin_sync_last_timestamp_seconds\{plugin="([^"]+)"\}$/.exec(k);
    if (m && v > 0) netplugins[m[1]!] = iso(v);
  }
  // prom-client shows a gauge never set as 0: the proxy has not synced yet.
  return { address, ...(proxy ? { proxy: iso(proxy) } : {}), netplugins };
}

/** `systemctl show` output (Key=Value lines) as a map. Pure. */
export function parseSystemctlShow(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

export interface StatusFlags { config: string; kubeconfig?: string; nodeName: string; netns?: string; json: boolean }

/** The real sources: systemctl, the config file, the API, nft and IPVS (in `netns` when given). */
export function systemSources(f: StatusFlags): StatusSources {
  return {
    unit() {
      if (!existsSync('/run/systemd/system')) return undefined;
      for (const name of ['k8ts-server.service', 'k8ts-agent.service']) {
        // Key=Value lines: systemctl prints properties in its own order, not the order asked.
        const r = spawnSync('systemctl', ['show', name, '-p', 'LoadState', '-p', 'ActiveState', '-p', 'MainPID'], { encoding: 'utf8' });
        const p = parseSystemctlShow(r.stdout ?? '');
        if (r.status === 0 && p.LoadState === 'loaded') return { name, state: p.ActiveState ?? 'unknown', ...(Number(p.MainPID) > 0 ? { pid: Number(p.MainPID) } : {}) };
      }
      return undefined;
    },
    config() {
      if (!existsSync(f.config)) return undefined;
      return { file: f.config, values: parseConfigFile(readFileSync(f.config, 'utf8'), f.config) };
    },
    async node(config) {
      let client: RestClusterClient;
      let close: () => void;
      let server: string;
      if (f.kubeconfig && existsSync(f.kubeconfig)) {
        const c = clientFromKubeconfig(f.kubeconfig, { userAgent: 'k8ts-status' });
        ({ client } = c);
        close = () => c.transport.close();
        server = (/^\s*server:\s*(\S+)/m.exec(readFileSync(f.kubeconfig, 'utf8')))?.[1] ?? '?';
      } else if (typeof config.server === 'string' && typeof config['token-file'] === 'string') {
        server = config.server;
        const token = readFileSync(config['token-file'], 'utf8').trim();
        const transport = new HttpsTransport({
          server, token, ca: await discoverCA(server, token), userAgent: 'k8ts-status',
          impersonate: { user: `system:node:${f.nodeName}`, groups: ['system:nodes'] },
        });
        client = new RestClusterClient(transport);
        close = () => transport.close();
      } else return undefined;
      try {
        const node = await client.get<Node>(resources.nodes, undefined, f.nodeName);
        const ready = node.status?.conditions?.find(c => c.type === 'Ready');
        const lease = await client.get<Lease>(resources.leases, 'kube-node-lease', f.nodeName).catch(() => undefined);
        return {
          name: f.nodeName, ready: ready?.status ?? 'Unknown', server, ...(ready?.reason ? { reason: ready.reason } : {}),
          ...(ready?.lastHeartbeatTime ? { heartbeat: ready.lastHeartbeatTime } : {}),
          ...(lease?.spec?.renewTime ? { leaseRenewed: lease.spec.renewTime } : {}),
        };
      } finally {
        close();
      }
    },
    async nftables() {
      const t = await listTable(PROXY_TABLE, f.netns ? { netns: f.netns } : {});
      if (!t) return undefined;
      let rules = 0;
      for (const n of t.chains.values()) rules += n;
      let elements = 0;
      for (const e of t.sets.values()) elements += e.length;
      return { table: PROXY_TABLE, chains: t.chains.size, rules, elements };
    },
    async syncs(config) {
      // The agent's flag, else the server's/proxy's default: kube-proxy's metrics address.
      const address = typeof config['proxy-metrics-bind-address'] === 'string' ? config['proxy-metrics-bind-address'] : DEFAULT_METRICS_BIND_ADDRESS;
      const { host, port } = parseBindAddress(address);
      if (port === 0) return undefined;
      const target = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
      let text: string;
      try {
        const res = await fetch(`http://${target}:${port}/metrics`, { signal: AbortSignal.timeout(3000) });
        if (!res.ok) throw new Error(`HTTP ${res.status} from http://${target}:${port}/metrics`);
        text = await res.text();
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code;
        if (cause === 'ECONNREFUSED') return undefined;
        throw err;
      }
      return syncsFromMetrics(address, text);
    },
    now: () => Date.now(),
    async ipvs() {
      let sock: IpvsSocket;
      try {
        sock = await IpvsSocket.open(f.netns);
      } catch {
        return undefined; // no IPVS in this kernel (no generic netlink family)
      }
      try {
        const services = await sock.listServices();
        let dests = 0;
        for (const s of services) dests += (await sock.listDests(s)).length;
        return { services: services.length, dests };
      } finally {
        sock.close();
      }
    },
  };
}

export const statusUsage = `usage: k8ts status [--config FILE] [--kubeconfig FILE] [--node-name NAME] [--netns NAME] [--json]

What k8ts is doing on this node: its systemd unit, config.yaml's role and modes, the node's Ready
condition, heartbeat and Lease renewal from the API, the kernel's proxy rules (nftables table,
IPVS virtual servers), and when the proxy and the netplugins last synced (from the node network
metrics on 127.0.0.1:10249, or the config's proxy-metrics-bind-address).
`;

export async function runStatus(argv: string[], write: (s: string) => void = s => process.stdout.write(s)): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv, strict: true, allowPositionals: false,
      options: {
        config: { type: 'string' }, kubeconfig: { type: 'string' }, 'node-name': { type: 'string' }, netns: { type: 'string' },
        json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`k8ts status: ${(err as Error).message}\n${statusUsage}`);
    return 2;
  }
  if (values.help) { write(statusUsage); return 0; }
  const flags: StatusFlags = {
    config: values.config ?? process.env.K8TS_CONFIG_FILE ?? defaultConfigFile,
    kubeconfig: values.kubeconfig ?? '/var/lib/k8ts/kubeconfig.yaml',
    nodeName: values['node-name'] ?? hostname().toLowerCase(),
    json: values.json === true,
    ...(values.netns ? { netns: values.netns } : {}),
  };
  // The IPVS socket is unref'd (kernel/ipvs/socket.ts, made for daemons): without a handle of our
  // own, Node could exit while a dump is still on its way.
  const keepAlive = setInterval(() => undefined, 1000);
  let report: StatusReport;
  try {
    report = await collectStatus(systemSources(flags));
  } finally {
    clearInterval(keepAlive);
  }
  write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : renderStatus(report));
  return 0;
}

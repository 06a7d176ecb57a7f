// The effectful half of `k8ts trace`: reading a node's kernel state into a `Snapshot`, and the
// probe — one real packet from the source pod, traced by nftables.
//
// The probe marks only its own packet: a table of ours (`ip k8ts-trace-<random>`) with one chain
// at prerouting priority -350 (before conntrack and every NAT chain) whose single rule matches the
// probe's exact 5-tuple (a source port chosen at random; for TCP only the SYN) and sets `meta
// nftrace`; `nft monitor` in the node's namespace then prints every rule that packet meets, in
// every table and hook. The table is deleted in a `finally`, also when the probe or the monitor
// fails, and the monitor is killed by its own pid.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { systemExec, type Exec } from '../../kernel/exec.js';
import { IpvsSocket } from '../../kernel/ipvs/socket.js';
import { withRtnl, type FdbEntry } from '../../kernel/rtnl/index.js';
import { parseRuleset, type Ruleset } from './nft-eval.js';
import type { Flow, Snapshot } from './path.js';

/** `cmd args` in the namespace `netns` (undefined: this one). */
const inNs = (netns: string | undefined, cmd: string, args: string[]): [string, readonly string[]] =>
  netns ? ['ip', ['netns', 'exec', netns, cmd, ...args]] : [cmd, args];

async function runOk(exec: Exec, [cmd, args]: [string, readonly string[]], input?: string): Promise<string> {
  const r = await exec.run(cmd, args, { ...(input !== undefined ? { input } : {}), timeoutMs: 20_000 });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ').slice(0, 200)} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 500)}`);
  return r.stdout;
}

/** Rule text by `table chain handle`, from `nft -a list ruleset`. Pure. */
export function parseRuleText(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  // Blocks nest two deep: a table holds chains, sets, maps, flowtables; rules are in chains.
  let table = '', chain = '', inBlock = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    let m = /^table \S+ (\S+) \{/.exec(line);
    if (m) { table = m[1]!; chain = ''; inBlock = false; continue; }
    m = /^(chain|set|map|flowtable|counter|quota|ct \w+|limit|synproxy|secmark) (\S+) \{/.exec(line);
    if (m) { inBlock = true; chain = m[1] === 'chain' ? m[2]! : ''; continue; }
    m = /^(.*\S)\s+# handle (\d+)$/.exec(line);
    // Counters change from one read to the next: the rule is the same.
    if (m && chain && !/^(type|policy) /.test(m[1]!)) out[`${table} ${chain} ${m[2]!}`] = m[1]!.replace(/counter packets \d+ bytes \d+/, 'counter').replace(/\s+/g, ' ');
    if (line === '}') { if (inBlock) { inBlock = false; chain = ''; } else table = ''; }
  }
  return out;
}

/** The kernel state of the node whose network namespace is `netns` (undefined: this namespace). */
export async function readSnapshot(node: string, netns: string | undefined, exec: Exec = systemExec): Promise<Snapshot> {
  const { nft, ruleText } = await readRuleset(netns, exec);
  const ipvs = await readIpvs(netns);
  return withRtnl(netns, async r => {
    const links = await r.listLinks();
    const fdb: FdbEntry[] = [];
    for (const l of links.filter(x => x.kind === 'vxlan')) fdb.push(...await r.listFdb(l.name));
    return { node, nft, ruleText, links, addrs: await r.listAddrs(), routes: await r.listRoutes(), neighs: await r.listNeighs(), fdb, ...(ipvs ? { ipvs } : {}) };
  });
}

/** IPVS virtual servers with their real servers; undefined when the kernel has no IPVS. */
async function readIpvs(netns: string | undefined): Promise<Snapshot['ipvs']> {
  let sock: IpvsSocket;
  try {
    sock = await IpvsSocket.open(netns);
  } catch {
    return undefined; // no IPVS generic netlink family in this kernel
  }
  // The socket is unref'd (made for daemons): keep the process up while the dump is on its way.
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    const out: NonNullable<Snapshot['ipvs']> = [];
    for (const service of await sock.listServices()) {
      out.push({ service, dests: (await sock.listDests(service)).map(d => ({ address: d.address, port: d.port, weight: d.weight })) });
    }
    return out;
  } finally {
    clearInterval(keepAlive);
    sock.close();
  }
}

/**
 * The whole ruleset; when nft aborts on a rule it cannot decompile, chain by chain instead (the
 * chains, sets and maps still list), recording the chains it cannot print.
 */
async function readRuleset(netns: string | undefined, exec: Exec): Promise<{ nft: Ruleset; ruleText: Record<string, string> }> {
  const read = await readNft(netns, exec);
  // iptables-nft rules: what their xt expressions mean is in iptables-save.
  if (read.nft.rules.some(r => r.expr.some(e => e !== null && typeof e === 'object' && 'xt' in e))) {
    const save = await exec.run(...inNs(netns, 'iptables-save', []), { timeoutMs: 20_000 });
    if (save.exitCode === 0) {
      read.nft.xt = mapIptablesSave(read.nft, save.stdout);
      Object.assign(read.ruleText, read.nft.xt); // their own syntax reads better than nft's translation
    }
  }
  return read;
}

/**
 * iptables-save lines by the `table chain handle` of the nft rule they are: the n-th `-A CHAIN`
 * line of a table is the n-th rule of that chain (iptables-nft keeps the order). A chain whose
 * counts differ (changed between the two reads) is left out. Pure.
 */
export function mapIptablesSave(rs: Ruleset, save: string): Record<string, string> {
  const lines = new Map<string, string[]>();
  let table = '';
  for (const l of save.split('\n')) {
    if (l.startsWith('*')) { table = l.slice(1).trim(); continue; }
    const m = /^-A (\S+) /.exec(l);
    if (!m) continue;
    const k = `${table} ${m[1]!}`;
    lines.set(k, [...(lines.get(k) ?? []), l]);
  }
  const out: Record<string, string> = {};
  const byChain = new Map<string, number[]>();
  for (const r of rs.rules.filter(x => x.family === 'ip')) byChain.set(`${r.table} ${r.chain}`, [...(byChain.get(`${r.table} ${r.chain}`) ?? []), r.handle]);
  for (const [k, handles] of byChain) {
    const ls = lines.get(k);
    if (!ls || ls.length !== handles.length) continue;
    handles.forEach((h, i) => { out[`${k} ${h}`] = ls[i]!; });
  }
  return out;
}

async function readNft(netns: string | undefined, exec: Exec): Promise<{ nft: Ruleset; ruleText: Record<string, string> }> {
  const all = await exec.run(...inNs(netns, 'nft', ['-j', 'list', 'ruleset']), { timeoutMs: 20_000 });
  if (all.exitCode === 0) return { nft: parseRuleset(all.stdout), ruleText: parseRuleText(await runOk(exec, inNs(netns, 'nft', ['-a', 'list', 'ruleset']))) };
  const nft: Ruleset = { chains: [], rules: [], sets: [], undecodable: [] };
  const ruleText: Record<string, string> = {};
  for (const what of ['chains', 'sets', 'maps']) {
    const part = parseRuleset(await runOk(exec, inNs(netns, 'nft', ['-j', 'list', what])));
    nft.chains.push(...part.chains);
    nft.sets.push(...part.sets);
  }
  for (const ch of nft.chains) {
    const args = ['list', 'chain', ch.family, ch.table, ch.name];
    const j = await exec.run(...inNs(netns, 'nft', ['-j', ...args]), { timeoutMs: 20_000 });
    if (j.exitCode !== 0) { nft.undecodable!.push(`${ch.table} ${ch.name}`); continue; }
    nft.rules.push(...parseRuleset(j.stdout).rules);
    Object.assign(ruleText, parseRuleText(await runOk(exec, inNs(netns, 'nft', ['-a', ...args]))));
  }
  return { nft, ruleText };
}

/** The named network namespace the kubelet made for pod `uid` (`<prefix><uid>` under /run/netns). */
export function podNetns(uid: string, dir = '/run/netns'): string | undefined {
  let names: string[];
  try { names = readdirSync(dir); } catch { return undefined; }
  return names.find(n => n.endsWith(uid));
}

export interface TraceEvent {
  id: string;
  table: string;
  chain: string;
  kind: string;
  text: string;
  /** For packet lines: the addresses and ports as the chain saw them. */
  saddr?: string;
  daddr?: string;
  dport?: number;
  verdict?: string;
}

/** `nft monitor trace` output, line by line. Pure. */
export function parseTrace(text: string): TraceEvent[] {
  const out: TraceEvent[] = [];
  for (const line of text.split('\n')) {
    const m = /^trace id (\S+) (?:ip|inet) (\S+) (\S+) (packet|rule|verdict|policy|unknown rule)\b:?\s*(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, id, table, chain, kind, rest] = m as unknown as [string, string, string, string, string, string];
    const e: TraceEvent = { id, table, chain, kind, text: rest };
    const sa = /\bip saddr (\S+)/.exec(rest), da = /\bip daddr (\S+)/.exec(rest), dp = /\b(?:tcp|udp|sctp) dport (\d+)/.exec(rest);
    if (kind === 'packet') {
      if (sa) e.saddr = sa[1]!;
      if (da) e.daddr = da[1]!;
      if (dp) e.dport = Number(dp[1]);
    }
    const v = /\(verdict (\w+(?: \S+)?)\)\s*$/.exec(rest) ?? (kind === 'verdict' || kind === 'policy' ? /^(jump \S+|goto \S+|\w+)/.exec(rest) : null);
    if (v) e.verdict = v[1]!;
    out.push(e);
  }
  return out;
}

export interface ProbeResult {
  table: string;
  events: TraceEvent[];
  /** What the probe's own connection attempt reported (connected, refused, timeout, sent). */
  outcome: string;
}

/** The client side of the probe, run by node in the pod's namespace: one TCP SYN or one UDP datagram from `sport`. */
const PROBE_CLIENT = `const [proto, host, port, sport] = process.argv.slice(1);
if (proto === 'udp') { const s = require('node:dgram').createSocket('udp4'); s.bind(Number(sport), () => s.send('k8ts-trace', Number(port), host, e => { console.log(e ? 'error ' + e.code : 'sent'); s.close(); })); }
else { const c = require('node:net').connect({ host, port: Number(port), localPort: Number(sport) }); const t = setTimeout(() => { console.log('timeout'); c.destroy(); }, 2000);
c.on('connect', () => { console.log('connected'); clearTimeout(t); c.destroy(); }); c.on('error', e => { console.log('error ' + e.code); clearTimeout(t); }); }`;

/**
 * Sends one real packet of `flow` from `podNs` and returns every nftables trace event of it in
 * `nodeNs`. The trace table is removed before returning, whatever happened.
 */
export async function probe(nodeNs: string | undefined, podNs: string, flow: Flow, exec: Exec = systemExec): Promise<ProbeResult> {
  const table = `k8ts-trace-${randomBytes(4).toString('hex')}`;
  const l4 = flow.proto;
  const ruleset = `table ip ${table} {
  chain pre {
    type filter hook prerouting priority -350; policy accept;
    ip saddr ${flow.saddr} ip daddr ${flow.daddr} ${l4} sport ${flow.sport} ${l4} dport ${flow.dport}${l4 === 'tcp' ? ' tcp flags & (syn | ack) == syn' : ''} meta nftrace set 1
  }
}
`;
  let monitorOut = '';
  // `nft monitor` (every event, traces included) rather than `monitor trace`: seeing our own table
  // appear in it proves the monitor is subscribed before the probe leaves.
  const [mcmd, margs] = inNs(nodeNs, 'nft', ['monitor']);
  const monitor = spawn(mcmd, margs, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>(resolve => monitor.once('close', () => resolve()));
  monitor.stdout.setEncoding('utf8').on('data', (d: string) => { monitorOut += d; });
  let monitorErr = '';
  monitor.stderr.setEncoding('utf8').on('data', (d: string) => { monitorErr += d; });
  try {
    await runOk(exec, inNs(nodeNs, 'nft', ['-f', '-']), ruleset);
    // A monitor not yet subscribed misses the table's "add": touch the table again (an empty chain)
    // every second until one of our events shows.
    const deadline = Date.now() + 10_000;
    for (let n = 1; !monitorOut.includes(table); n++) {
      if (monitor.exitCode !== null || monitor.signalCode !== null) throw new Error(`nft monitor ended before the probe (${monitor.signalCode ?? `exit ${monitor.exitCode}`}): ${monitorErr.trim().slice(0, 300)}`);
      if (Date.now() > deadline) throw new Error('nft monitor showed no event of our table within 10 s');
      await new Promise(r => setTimeout(r, 100));
      if (n % 10 === 0) await runOk(exec, inNs(nodeNs, 'nft', ['add', 'chain', 'ip', table, `ready-${n}`]));
    }
    const r = await exec.run('ip', ['netns', 'exec', podNs, process.execPath, '-e', PROBE_CLIENT, l4, flow.daddr, String(flow.dport), String(flow.sport)], { timeoutMs: 15_000 });
    const outcome = r.stdout.trim() || `probe failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 300)}`;
    // Give the monitor the events of the packet's last hooks.
    await new Promise(res => setTimeout(res, 500));
    if (monitor.exitCode !== null || monitor.signalCode !== null) throw new Error(`nft monitor ended during the probe (${monitor.signalCode ?? `exit ${monitor.exitCode}`}): ${monitorErr.trim().slice(0, 300)}`);
    return { table, events: parseTrace(monitorOut), outcome };
  } finally {
    monitor.kill('SIGTERM');
    await Promise.race([exited, new Promise(r => setTimeout(r, 2000))]);
    if (monitor.exitCode === null && monitor.signalCode === null) monitor.kill('SIGKILL');
    const [dcmd, dargs] = inNs(nodeNs, 'nft', ['delete', 'table', 'ip', table]);
    await exec.run(dcmd, dargs, { timeoutMs: 10_000 });
  }
}

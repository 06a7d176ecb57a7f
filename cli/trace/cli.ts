// `k8ts trace --from POD --to SERVICE[:PORT] | IP:PORT`: the path of a packet from a pod, NODE →
// SVC → POD, computed from the live kernel state of the pod's node (path.ts over a snapshot read
// by probe.ts) and confirmed by an nftables trace of one real probe packet sent from the pod.
//
// Where the node is: `--netns NAME` (its network namespace), `--lab NAME` (a `k8ts lab`: its
// kubeconfig, and every node's namespace — the ingress policy of an endpoint on another node is
// then read there too), else this machine's own namespace (run it on the pod's node).
import { hostname } from 'node:os';
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { Node, Pod, Service } from 'kubernetes-types/core/v1.js';
import { clientFromKubeconfig } from '../../api/client/https.js';
import { resources } from '../../api/client/types.js';
import { computePath, renderPath, type Flow, type Snapshot, type TracePath } from './path.js';
import { podNetns, probe, readSnapshot, type ProbeResult, type TraceEvent } from './probe.js';

export const traceUsage = `usage: k8ts trace --from POD --to SERVICE[:PORT] | IP:PORT [flags]

The path a packet from POD takes, NODE → SVC → POD, computed from the kernel state of the pod's
node: the nftables rules it matches (table, chain, handle), the DNAT choice set with its
probabilities, the route and device it leaves by (VXLAN neighbour + FDB entry and remote VTEP,
or the routed next hop), the NetworkPolicy verdicts out and in; then one real packet is sent
from the pod and traced (meta nftrace in a temporary table, read with nft monitor).

  --from POD             the source pod (NAMESPACE/NAME, or NAME with -n)
  --to TARGET            SERVICE[:PORT] (port number or name; default the first port) or IP:PORT
  -n, --namespace NS     namespace of the pod and service (default "default")
  --node-port            to the service's NodePort on the source node's address (not the ClusterIP)
  --protocol tcp|udp     for --to IP:PORT (default tcp; a service port gives its own)
  --kubeconfig FILE      (default $KUBECONFIG, else /var/lib/k8ts/kubeconfig.yaml)
  --lab NAME             the pod's node is in \`k8ts lab\` NAME (its kubeconfig and node namespaces)
  --netns NAME           the pod's node's network namespace (default: this machine's)
  --no-probe             compute the path only; send nothing
  -o, --output text|json
`;

export interface Confirmation {
  /** The probe packet was seen with the destination rewritten to one of the DNAT choices. */
  dnatSeen: boolean;
  /** The destination as the forward/postrouting hooks saw it. */
  seenDaddr?: string;
  /** Tables/chains the traced packet crossed, in order. */
  chains: string[];
  /** Rule events with their verdicts. */
  rules: string[];
  outcome: string;
  /** The rule that dropped the traced packet, if one did. */
  droppedBy?: string;
}

/** What the nftables trace of the probe says about the computed path. Pure. */
export function confirm(path: TracePath, p: ProbeResult): Confirmation {
  const events = p.events.filter(e => e.table !== p.table);
  const chains: string[] = [];
  for (const e of events) { const c = `${e.table}/${e.chain}`; if (chains[chains.length - 1] !== c) chains.push(c); }
  const rules = events.filter(e => e.kind === 'rule').map(e => `${e.table}/${e.chain}: ${e.text}`);
  const choices = new Set((path.dnat?.choices ?? []).map(c => c.ip));
  const rewritten = events.find((e: TraceEvent) => e.kind === 'packet' && e.daddr !== undefined && e.daddr !== path.flow.daddr);
  const drop = events.find(e => e.verdict === 'drop' || e.verdict?.startsWith('reject'));
  return {
    dnatSeen: rewritten?.daddr !== undefined && choices.has(rewritten.daddr), ...(rewritten?.daddr ? { seenDaddr: rewritten.daddr } : {}), chains, rules, outcome: p.outcome,
    ...(drop ? { droppedBy: `${drop.table}/${drop.chain}: ${drop.text}` } : {}),
  };
}

export function renderConfirmation(c: Confirmation, path: TracePath): string {
  let out = `nftrace of a probe packet (${c.outcome}):\n`;
  out += `  chains: ${c.chains.join(' → ') || '(no event: the packet never reached the node?)'}\n`;
  for (const r of c.rules) out += `    ${r}\n`;
  if (c.droppedBy) out += `  dropped by ${c.droppedBy}\n`;
  if (!path.dnat) out += c.seenDaddr ? `  NOT as computed: the traced packet was sent to ${c.seenDaddr}\n` : '  as computed: no DNAT\n';
  else out += c.dnatSeen ? `  confirmed: DNAT to ${c.seenDaddr!} (one of the ${path.dnat.choices.length} endpoint(s))\n` : `  NOT confirmed: the traced packet was ${c.seenDaddr ? `sent to ${c.seenDaddr}` : 'never seen DNATed'}\n`;
  return out;
}

interface LabStateLite { kubeconfig?: string; plan: { nodes_: { name: string; netns: string; ip: string }[] } }

export async function runTrace(argv: string[], write: (s: string) => void = s => process.stdout.write(s)): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv, strict: true, allowPositionals: false,
      options: {
        from: { type: 'string' }, to: { type: 'string' }, namespace: { type: 'string', short: 'n' }, 'node-port': { type: 'boolean' },
        protocol: { type: 'string' }, kubeconfig: { type: 'string' }, lab: { type: 'string' }, netns: { type: 'string' },
        'no-probe': { type: 'boolean' }, output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`k8ts trace: ${(err as Error).message}\n${traceUsage}`);
    return 2;
  }
  if (values.help) { write(traceUsage); return 0; }
  const fail = (msg: string, code = 2) => { process.stderr.write(`k8ts trace: ${msg}\n`); return code; };
  if (!values.from || !values.to) return fail(`--from and --to are needed\n${traceUsage}`);
  const output = values.output ?? 'text';
  if (output !== 'text' && output !== 'json') return fail(`invalid --output "${output}": text, json`);
  const protoFlag = (values.protocol ?? 'tcp').toLowerCase();
  if (protoFlag !== 'tcp' && protoFlag !== 'udp') return fail(`invalid --protocol "${values.protocol ?? ''}": tcp, udp`);

  let lab: LabStateLite | undefined;
  if (values.lab) {
    const { readState } = await import('../../test-vm/lab/lab.js');
    try {
      lab = readState(values.lab) as LabStateLite | undefined;
    } catch (err) {
      return fail((err as Error).message); // an invalid lab name
    }
    if (!lab) return fail(`no lab "${values.lab}" (k8ts lab list)`);
  }
  const kubeconfig = values.kubeconfig ?? lab?.kubeconfig ?? process.env.KUBECONFIG ?? '/var/lib/k8ts/kubeconfig.yaml';
  const conn = clientFromKubeconfig(kubeconfig, { userAgent: 'k8ts-trace' });
  try {
    const [podNs, podName] = values.from.includes('/') ? values.from.split('/', 2) as [string, string] : [values.namespace ?? 'default', values.from];
    const pod = await conn.client.get<Pod>(resources.pods, podNs, podName);
    const podIP = pod.status?.podIP, nodeName = pod.spec?.nodeName, uid = pod.metadata?.uid;
    if (!podIP || !nodeName || !uid) return fail(`pod ${podNs}/${podName} has no IP or node yet`, 1);
    if (pod.spec?.hostNetwork) return fail(`pod ${podNs}/${podName} uses the host network: trace from a pod with its own network`, 1);

    let daddr: string, dport: number, proto: Flow['proto'] = protoFlag;
    const ipPort = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(values.to);
    if (ipPort) {
      if (values['node-port']) return fail('--node-port needs --to SERVICE');
      [daddr, dport] = [ipPort[1]!, Number(ipPort[2])];
    } else {
      const [svcName, portRef] = values.to.split(':', 2) as [string, string | undefined];
      const svc = await conn.client.get<Service>(resources.services, values.namespace ?? podNs, svcName);
      const ports = svc.spec?.ports ?? [];
      const sp = portRef === undefined ? ports[0] : ports.find(p => p.name === portRef || String(p.port) === portRef || (values['node-port'] && String(p.nodePort) === portRef));
      if (!sp) return fail(`service ${svcName} has no port "${portRef ?? ''}" (ports: ${ports.map(p => `${p.name ?? ''}:${p.port}`).join(', ')})`, 1);
      proto = (sp.protocol ?? 'TCP').toLowerCase() as Flow['proto'];
      if (values['node-port']) {
        if (!sp.nodePort) return fail(`service ${svcName} port ${sp.port} has no nodePort (type ${svc.spec?.type ?? 'ClusterIP'})`, 1);
        const node = await conn.client.get<Node>(resources.nodes, undefined, nodeName);
        const addr = node.status?.addresses?.find(a => a.type === 'InternalIP')?.address;
        if (!addr) return fail(`node ${nodeName} has no InternalIP`, 1);
        [daddr, dport] = [addr, sp.nodePort];
      } else {
        if (!svc.spec?.clusterIP || svc.spec.clusterIP === 'None') return fail(`service ${svcName} has no ClusterIP (headless?): trace to a pod IP:PORT`, 1);
        [daddr, dport] = [svc.spec.clusterIP, sp.port];
      }
    }

    const labNode = lab?.plan.nodes_.find(n => n.name === nodeName);
    if (lab && !labNode) return fail(`node ${nodeName} is not in lab ${values.lab ?? ''}`, 1);
    const nodeNs = values.netns ?? labNode?.netns;
    if (!nodeNs && nodeName !== hostname().toLowerCase()) process.stderr.write(`k8ts trace: warning: pod ${podName} runs on ${nodeName}, this machine is ${hostname()}: reading this machine's kernel\n`);
    const flow: Flow = { saddr: podIP, daddr, proto, dport, sport: randomInt(20_000, 60_000) };

    const src = await readSnapshot(nodeName, nodeNs);
    const peers = new Map<string, Snapshot>();
    for (const n of lab?.plan.nodes_ ?? []) if (n.name !== nodeName) peers.set(n.ip, await readSnapshot(n.name, n.netns));
    const path = computePath(src, flow, peers);

    let confirmation: Confirmation | undefined, probeError: string | undefined;
    if (!values['no-probe']) {
      const ns = podNetns(uid);
      if (!ns) return fail(`no network namespace of pod ${podName} (uid ${uid}) under /run/netns: is its node this machine?`, 1);
      try {
        confirmation = confirm(path, await probe(nodeNs, ns, flow));
      } catch (err) {
        probeError = err instanceof Error ? err.message : String(err);
      }
    }
    if (output === 'json') write(`${JSON.stringify({ path, ...(confirmation ? { probe: confirmation } : {}), ...(probeError ? { probeError } : {}) }, null, 2)}\n`);
    else write(renderPath(path, src.ruleText) + (confirmation ? renderConfirmation(confirmation, path) : '') + (probeError ? `nftrace of a probe packet: failed: ${probeError}\n` : ''));
    // The probe contradicting the computed path is a failure too: the kernel did something else.
    const contradicted = confirmation !== undefined && (path.dnat ? !confirmation.dnatSeen : confirmation.seenDaddr !== undefined);
    return probeError !== undefined || contradicted ? 1 : 0;
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err), 1);
  } finally {
    conn.transport.close();
  }
}

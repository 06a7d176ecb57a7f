// The deliberate breakages of a lab that prove every conformance check can fail (issue 10): each is
// a handful of kernel changes inside the lab's node network namespaces (never the host's), undone
// afterwards, and names the checks it must make fail and what each one's reason must say. A few
// breakages each break many checks, so they all fit one lab after the green run:
//
// - the data path cut: traffic to pods rejected in every node (forward and output), Service
//   addresses black-holed before the proxy's DNAT (so the cluster DNS is unreachable too);
// - NetworkPolicy rules gone: the netpol table deleted every 100 ms on every node;
// - Service rules gone: the proxy's table deleted every 100 ms on node 1 (its client pod's node);
// - Service and pod semantics bent while traffic flows: everything sent to a pod masqueraded
//   (pods and endpoints see a node address, not the client's), node 1's ClientIP affinity sets
//   flushed every 100 ms, hairpin turned off on node 1's bridge ports, and TCP packets to pods
//   longer than 1000 bytes dropped (an MTU black hole).
//
// Two checks read a pod's own files (hostname, resolv.conf): no network breakage touches them;
// conformance/checks/dns.test.ts shows those failing against a cluster that answers wrongly.
import { execa } from 'execa';
import { execInNetns } from '../../kernel/netns.js';

/** Pod and Service ranges of `k8ts lab` (test-vm/lab/plan.ts). */
const POD_CIDR = '10.42.0.0/16';
const SERVICE_CIDR = '10.43.0.0/16';
/** Our own table in a node's namespace: never one of the daemons'. */
const TABLE = 'k8ts-t-conformance-break';

export interface Breakage {
  name: string;
  /** Check name → what its failure reason must say. */
  fails: Record<string, RegExp>;
  /** How many checks run at once while the lab is broken. */
  concurrency: number;
  /** Breaks the lab whose node namespaces are `nodes` (node 1 first); resolves to the undo. */
  apply(nodes: readonly string[]): Promise<() => Promise<void>>;
}

const nft = (netns: string, args: string[]) => execa('ip', ['netns', 'exec', netns, 'nft', ...args], { reject: false });

/** Loads `ruleset` into every node's namespace; the undo deletes our table again. */
async function withTable(nodes: readonly string[], family: 'ip' | 'inet', ruleset: string): Promise<() => Promise<void>> {
  const done: string[] = [];
  const undo = async () => { for (const n of done) await nft(n, ['delete', 'table', family, TABLE]); };
  try {
    for (const n of nodes) {
      await execInNetns(n, 'nft', ['-f', '-'], `table ${family} ${TABLE} {\n${ruleset}\n}\n`);
      done.push(n);
    }
  } catch (err) {
    await undo();
    throw err;
  }
  return undo;
}

/**
 * Runs `nft args` in the given namespaces every 100 ms until undone: the daemons re-create what
 * is deleted on their next sync (a change, a failure, the periodic resync), so one delete would be
 * repaired as soon as a check creates its objects.
 */
function repeatedly(nodes: readonly string[], args: string[]): () => Promise<void> {
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      for (const n of nodes) await nft(n, args);
      await new Promise(r => setTimeout(r, 100));
    }
  })();
  return async () => { stop = true; await loop; };
}

/** The bridge ports of a node with hairpin mode on (`bridge -d link` shows `hairpin on`). */
async function hairpinPorts(netns: string): Promise<string[]> {
  const r = await execa('bridge', ['-n', netns, '-d', 'link', 'show'], { reject: false });
  const ports: string[] = [];
  let current: string | undefined;
  for (const line of r.stdout.split('\n')) {
    const head = /^\d+:\s+([^@:\s]+)/.exec(line);
    if (head) current = head[1];
    else if (current && /\bhairpin on\b/.test(line)) ports.push(current);
  }
  return ports;
}

const setHairpin = (netns: string, port: string, on: boolean) =>
  execa('bridge', ['-n', netns, 'link', 'set', 'dev', port, 'hairpin', on ? 'on' : 'off'], { reject: false });

// What the reasons say when traffic dies: a reset (refused), ICMP unreachable, a local rule's
// EPERM, or silence (a timeout).
const refused = /Connection refused|connection refused/;
const noAnswer = /timed out|no answer/;
const unreachable = new RegExp(`${refused.source}|${noAnswer.source}|Operation not permitted`);
const neverReached = new RegExp(`never reached .*reached: none; last error: .*(${unreachable.source})`);
const noDns = /no servers could be reached/;
const notNatFree = /must not be NATed/;

export const dataPathCut: Breakage = {
  name: 'data path cut (pods rejected, Service IPs black-holed)',
  concurrency: 10,
  fails: {
    'pod-to-pod http, same node': refused,
    'pod-to-pod udp, same node': unreachable,
    'pod-to-pod http, other node': refused,
    'pod-to-pod udp, other node': unreachable,
    'node-to-pod http': unreachable,
    'node-to-pod udp': unreachable,
    'pod-to-service http': neverReached,
    'pod-to-service udp': neverReached,
    'node-to-service http': neverReached,
    'node-to-service udp': neverReached,
    'endpoint-to-service http': neverReached,
    'endpoint-to-service udp': neverReached,
    'services sharing a selector': neverReached,
    'endpoints update http': neverReached,
    'endpoints update udp': neverReached,
    'NodePort': neverReached,
    'multiport': neverReached,
    'same port, two protocols': neverReached,
    'type changes': neverReached,
    'refused without endpoints': /waiting for connections to a service without endpoints to be refused at once \(last attempt .*timed out/,
    'publishNotReadyAddresses': noAnswer,
    'UDP survives pod cycling (NodePort)': /waiting for the first server to answer on the NodePort .*no answer/,
    'DNS for services': noDns,
    'DNS for the cluster': noDns,
    'pod subdomain': noDns,
    'ExternalName': noDns,
    'partially qualified names': noDns,
    'netpol all namespaces': /tcp from another namespace: denied, expected allowed/,
  },
  apply: nodes => withTable(nodes, 'inet', `
  chain svc-pre { type filter hook prerouting priority -150; ip daddr ${SERVICE_CIDR} drop; }
  chain svc-out { type filter hook output priority -150; ip daddr ${SERVICE_CIDR} drop; }
  chain pod-fwd { type filter hook forward priority -10; ip daddr ${POD_CIDR} meta l4proto tcp reject with tcp reset; ip daddr ${POD_CIDR} reject; }
  chain pod-out { type filter hook output priority 10; ip daddr ${POD_CIDR} meta l4proto tcp reject with tcp reset; ip daddr ${POD_CIDR} reject; }`),
};

const allowedButExpectedDenied = /timed out after \d+ s waiting for the policy to take effect \(.*: allowed, expected denied/;

export const netpolGone: Breakage = {
  name: 'NetworkPolicy rules gone',
  concurrency: 9,
  fails: {
    'netpol default-deny ingress': allowedButExpectedDenied,
    'netpol default-deny all': allowedButExpectedDenied,
    'netpol podSelector': allowedButExpectedDenied,
    'netpol namespaceSelector': allowedButExpectedDenied,
    'netpol pod and namespace selector': allowedButExpectedDenied,
    'netpol ports': allowedButExpectedDenied,
    'netpol named port': allowedButExpectedDenied,
    'netpol egress on a named port': allowedButExpectedDenied,
    'netpol CIDR with except': allowedButExpectedDenied,
  },
  apply: async nodes => repeatedly(nodes, ['delete', 'table', 'ip', 'k8ts-netpol']),
};

export const semanticsBent: Breakage = {
  name: 'pods NATed, affinity forgotten, hairpin off, large packets dropped',
  concurrency: 11,
  fails: {
    'pod-to-pod http, same node': notNatFree,
    'pod-to-pod udp, same node': notNatFree,
    'pod-to-pod http, other node': notNatFree,
    'pod-to-pod udp, other node': notNatFree,
    'source IP through a ClusterIP': /through the ClusterIP, client-\d \([\d.]+\) was seen as [\d.]+/,
    'externalTrafficPolicy Local': /with externalTrafficPolicy=Local the endpoint saw [\d.]+, not the client node/,
    'ClientIP affinity': /with ClientIP affinity 10 requests from one client reached [23] backends/,
    'ClientIP affinity timeout': /within the 2 s affinity timeout, requests reached \S+, \S+/,
    'switching affinity': /waiting for ClientIP affinity to take effect \(10 requests .* still reached [23] backends/,
    'hairpin': /from netserver-0: timed out: wget got no answer/,
    'large requests': /a 1048576-byte POST through the service got no answer \(timed out/,
  },
  apply: async nodes => {
    const undoTable = await withTable(nodes, 'ip', `
  chain masq { type nat hook postrouting priority 200; ip daddr ${POD_CIDR} masquerade; }
  chain big-fwd { type filter hook forward priority -10; ip daddr ${POD_CIDR} meta l4proto tcp meta length > 1000 drop; }
  chain big-out { type filter hook output priority -10; ip daddr ${POD_CIDR} meta l4proto tcp meta length > 1000 drop; }`);
    // Node 1 only: the affinity checks ask from its client pod, and its proxy picks the backend.
    // The affinity state is one set per endpoint index (affinity-K); the suite's affinity
    // services have 3 endpoints.
    const flushes = [0, 1, 2].map(k => repeatedly(nodes.slice(0, 1), ['flush', 'set', 'ip', 'k8ts-proxy', `affinity-${k}`]));
    const stopFlush = async (): Promise<void> => { for (const stop of flushes) await stop(); };
    // The suite's fixture pods exist by now (the run sets them up first), except the hairpin
    // check's own: it asks through netserver-0, made with the run. So hairpin goes off a moment
    // later too, for the ports that appear while the breakage holds.
    const turnedOff: string[] = [];
    const n1 = nodes[0]!;
    let stop = false;
    const hairpinLoop = (async () => {
      while (!stop) {
        for (const p of await hairpinPorts(n1)) {
          await setHairpin(n1, p, false);
          turnedOff.push(p);
        }
        await new Promise(r => setTimeout(r, 200));
      }
    })();
    return async () => {
      stop = true;
      await hairpinLoop;
      await stopFlush();
      for (const p of new Set(turnedOff)) await setHairpin(n1, p, true);
      await undoTable();
    };
  },
};

export const serviceRulesGone: Breakage = {
  name: 'Service rules gone on node 1',
  concurrency: 3,
  fails: {
    // The suite's first client pod runs on the first Node by name: the lab's n1.
    'pod-to-service http': neverReached,
    'pod-to-service udp': neverReached,
    // Without the proxy's reject the ClusterIP is just an address nobody routes.
    'refused without endpoints': /waiting for connections to a service without endpoints to be refused at once \(last attempt .*(unreachable|timed out)/,
  },
  apply: async nodes => repeatedly(nodes.slice(0, 1), ['delete', 'table', 'ip', 'k8ts-proxy']),
};

export const breakages: readonly Breakage[] = [dataPathCut, netpolGone, semanticsBent, serviceRulesGone];

/** Our tables left in a node (none, once every breakage is undone). */
export async function leftovers(netns: string): Promise<string[]> {
  const r = await nft(netns, ['list', 'tables']);
  return r.stdout.split('\n').filter(l => l.includes(TABLE));
}

/** Checks no network breakage can fail, with where they are shown failing instead. */
export const unitTested: Record<string, string> = {
  'pod hostname': 'conformance/checks/dns.test.ts',
  'custom pod DNS config': 'conformance/checks/dns.test.ts',
};

// NetworkPolicy truth tables on a real 3-node `k8ts lab`, once per pod network mode (VXLAN
// overlay with a bridge per node, routed): upstream's netpol e2e layout — namespaces x, y, z with
// pods a, b, c each (a on node 1, b on node 2, c on node 3, so every namespace has same-node and
// cross-node pairs), every pod serving TCP and UDP on 80 and 81 under the names
// serve-<port>-<proto>. For each policy kind the whole grid (9 clients × 9 servers × 4 ports) is
// probed with real connections and compared with the reference model (netplugins/netpol/model.ts);
// on a mismatch the failure prints upstream's truth table with the differing cells marked.
//
// How the grid is probed, and why. Through the API's pods/exec a 324-cell grid takes minutes; so
// each client pod gets one long-lived prober: the host's Node.js entered into the pod's network
// namespace (`nsenter --net`, as the lab's own tools do) — the program is the host's, the socket
// is the pod's, on the pod's veth, through the node's bridge or routes and policy table. A
// prober probes its 36 cells in parallel (TCP connect; UDP request to the pod's udpecho); a
// dropped connection shows as a timeout. The servers are the test image's own httpd and udpecho,
// and a few cells are checked with the image's wget and udpecho through pods/exec as well.
//
// Also measured: API-to-enforcement latency (a deny created → the first refused connection; the
// deny deleted → connections again), median of several, against the 1 s goal.
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { jest } from '@jest/globals';
import { execa } from 'execa';
import type { Event, Node, Pod, Service } from 'kubernetes-types/core/v1.js';
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import { clientFromKubeconfig, type HttpsTransport } from '../../api/client/https.js';
import { isNotFound } from '../../api/client/rest.js';
import { resources, type ClusterClient } from '../../api/client/types.js';
import { readSysctl, writeSysctl } from '../../kernel/rtnl/index.js';
import { BRIDGE_NF_CALL_IPTABLES, networkPolicies } from '../../netplugins/netpol/daemon.js';
import { expectedGrids, gridDiff, podKey, probeKey, type Grid, type ModelPod, type Probe, type Protocol } from '../../netplugins/netpol/model.js';
import { testImageName } from '../images/build-busybox-image.js';
import { eventually, k8tsBin } from './harness.js';

jest.setTimeout(300_000);

const NAMESPACES = ['x', 'y', 'z'];
const PODS = ['a', 'b', 'c'];
const PROBES: Probe[] = [{ proto: 'TCP', port: 80 }, { proto: 'TCP', port: 81 }, { proto: 'UDP', port: 80 }, { proto: 'UDP', port: 81 }];
const PROBE_TIMEOUT_MS = 1000;
/** How long a changed policy may take to show in the grid before the case fails. */
const SETTLE_MS = 15_000;
const LATENCY_REPS = 5;

// ───────────────────────────── the prober ─────────────────────────────

// Reads one JSON request a line, answers one JSON line with the same id.
//   {op:'grid', targets:[[ip,port,proto]], timeoutMs} → {results:[true | false (timeout) | 'ERR:<code>']}
//   {op:'watch', ip, port, proto, want, everyMs, timeoutMs, stableMs, maxMs} → {attempts:[[startMs, ok]]}:
//   a new connection every everyMs until the answers have been `want` for stableMs (or maxMs).
const PROBER = `const net=require('net'),dgram=require('dgram');
function tcp(ip,port,t){return new Promise(r=>{const s=net.connect({host:ip,port});const tm=setTimeout(()=>{s.destroy();r(false)},t);
s.on('connect',()=>{clearTimeout(tm);s.destroy();r(true)});s.on('error',e=>{clearTimeout(tm);r('ERR:'+e.code)})})}
function udp(ip,port,t){return new Promise(r=>{const s=dgram.createSocket('udp4');let done=false,iv,tm;
const end=v=>{if(done)return;done=true;clearInterval(iv);clearTimeout(tm);try{s.close()}catch(e){}r(v)};
s.on('message',()=>end(true));s.on('error',e=>end('ERR:'+e.code));const send=()=>{if(!done)s.send('ping',port,ip,()=>{})};
send();iv=setInterval(send,Math.max(50,t/4));tm=setTimeout(()=>end(false),t)})}
const probe=(ip,port,proto,t)=>proto==='UDP'?udp(ip,port,t):tcp(ip,port,t);
function watch(q){return new Promise(res=>{const a=[],t0=Date.now();let stop=false;
const iv=setInterval(()=>{if(stop)return;const x=[Date.now(),null];a.push(x);probe(q.ip,q.port,q.proto,q.timeoutMs).then(v=>{x[1]=v===true;check()})},q.everyMs);
function check(){if(stop)return;const now=Date.now();let lastOld=-1;for(const x of a)if(x[1]!==null&&x[1]!==q.want&&x[0]>lastOld)lastOld=x[0];
const fresh=a.filter(x=>x[0]>lastOld&&x[1]===q.want);const span=fresh.length?fresh[fresh.length-1][0]-fresh[0][0]:0;
if(span>=q.stableMs||now-t0>q.maxMs){stop=true;clearInterval(iv);setTimeout(()=>res(a),q.timeoutMs+50)}}})}
require('readline').createInterface({input:process.stdin}).on('line',async l=>{const q=JSON.parse(l);let out;
if(q.op==='grid')out={results:await Promise.all(q.targets.map(([ip,port,proto])=>probe(ip,port,proto,q.timeoutMs)))};
else out={attempts:await watch(q)};process.stdout.write(JSON.stringify({id:q.id,...out})+'\\n')});`;

type ProbeResult = boolean | string;

class Prober {
  private readonly child: ChildProcessWithoutNullStreams;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private exited: string | undefined;

  constructor(netns: string) {
    this.child = spawn('nsenter', [`--net=/run/netns/${netns}`, '--', process.execPath, '-e', PROBER]);
    createInterface({ input: this.child.stdout }).on('line', line => {
      const msg = JSON.parse(line) as { id: number } & Record<string, unknown>;
      this.waiting.get(msg.id)?.resolve(msg);
      this.waiting.delete(msg.id);
    });
    this.child.stderr.on('data', (d: Buffer) => process.stderr.write(`prober ${netns}: ${d.toString()}`));
    // A prober that dies (the pod's namespace gone, nsenter refused) fails its questions at once.
    this.child.on('exit', (code, sig) => {
      this.exited = `the prober in ${netns} exited (${sig ?? code})`;
      for (const w of this.waiting.values()) w.reject(new Error(this.exited));
      this.waiting.clear();
    });
  }

  private ask<T>(req: Record<string, unknown>): Promise<T> {
    const id = ++this.seq;
    if (this.exited) return Promise.reject(new Error(this.exited));
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: v => resolve(v as T), reject });
      this.child.stdin.write(`${JSON.stringify({ id, ...req })}\n`);
    });
  }

  async grid(targets: [string, number, Protocol][]): Promise<ProbeResult[]> {
    return (await this.ask<{ results: ProbeResult[] }>({ op: 'grid', targets, timeoutMs: PROBE_TIMEOUT_MS })).results;
  }

  async watch(ip: string, port: number, proto: Protocol, want: boolean): Promise<[number, boolean][]> {
    return (await this.ask<{ attempts: [number, boolean][] }>({ op: 'watch', ip, port, proto, want, everyMs: 10, timeoutMs: 300, stableMs: 500, maxMs: 8000 })).attempts;
  }

  kill(): void { this.child.kill('SIGKILL'); }
}

/**
 * When a change showed: the start of the first attempt after the last one that still saw the old
 * state, relative to `t0` (ms); undefined when the new state never held at the end.
 */
function enforcedAfter(attempts: readonly [number, boolean][], want: boolean, t0: number): number | undefined {
  let lastOld = -Infinity;
  for (const [t, ok] of attempts) if (ok !== want && t > lastOld) lastOld = t;
  const first = attempts.filter(([t, ok]) => t > lastOld && ok === want).map(([t]) => t).sort((a, b) => a - b)[0];
  return first === undefined ? undefined : Math.max(0, first - t0);
}

const median = (xs: readonly number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

// ───────────────────────────── the suite ─────────────────────────────

interface LabPod extends ModelPod { node: string; netns: string; uid: string }

describe.each((process.env.K8TS_NETPOL_E2E_MODES?.split(',') ?? ['vxlan', 'routed']) as ('vxlan' | 'routed')[])('NetworkPolicy truth tables, k8ts lab network %s', mode => {
  const name = `np${mode.slice(0, 2)}${randomBytes(2).toString('hex')}`;
  let client!: ClusterClient;
  let transport: HttpsTransport | undefined;
  let labUp = false;
  let rootTablesBefore = '';
  let nodeNetns: string[] = [];
  let podCIDRs: string[] = [];
  let nodeIPs: string[] = [];
  let nodeNames: string[] = [];
  const pods: LabPod[] = [];
  const probers = new Map<string, Prober>();
  const applied: NetworkPolicy[] = [];
  let t0 = 0;

  const pod = (key: string): LabPod => pods.find(p => podKey(p) === key)!;
  const policy = (namespace: string, pname: string, spec: NonNullable<NetworkPolicy['spec']>): NetworkPolicy =>
    ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace, name: pname }, spec });

  async function deletePolicies(): Promise<void> {
    for (const p of applied.splice(0)) {
      try { await client.delete(networkPolicies, p.metadata!.namespace!, p.metadata!.name!); } catch (err) { if (!isNotFound(err)) throw err; }
    }
  }

  async function setPolicies(policies: NetworkPolicy[]): Promise<void> {
    await deletePolicies();
    for (const p of policies) { await client.create(networkPolicies, p.metadata!.namespace!, p); applied.push(p); }
  }

  /** Probes the whole grid once: probe key → observed grid, and the cells that answered oddly. */
  async function observe(): Promise<{ grids: Map<string, Grid>; odd: string[] }> {
    const grids = new Map<string, Grid>(PROBES.map(pr => [probeKey(pr), new Map()]));
    const odd: string[] = [];
    await Promise.all(pods.map(async c => {
      const cells = pods.flatMap(s => PROBES.map(pr => ({ s, pr })));
      const results = await probers.get(podKey(c))!.grid(cells.map(({ s, pr }) => [s.ip, pr.port, pr.proto]));
      cells.forEach(({ s, pr }, i) => {
        const g = grids.get(probeKey(pr))!;
        if (!g.has(podKey(c))) g.set(podKey(c), new Map());
        const r = results[i]!;
        g.get(podKey(c))!.set(podKey(s), r === true);
        if (typeof r === 'string') odd.push(`${podKey(c)} → ${podKey(s)} ${probeKey(pr)}: ${r}`);
      });
    }));
    return { grids, odd };
  }

  /** Waits until the observed grid equals the model's for the policies in force; fails with the truth tables. */
  async function expectGridToMatchModel(what: string): Promise<number> {
    const started = Date.now();
    const want = expectedGrids({ namespaces: NAMESPACES.map(n => ({ name: n, labels: { ns: n } })), policies: applied }, pods, PROBES);
    let last = '';
    // Enforcement takes tens of ms (see the latency case): a first round started at once mostly
    // measures the API round trip, and costs a whole probe timeout.
    await new Promise(r => setTimeout(r, 250));
    for (let round = 1; ; round++) {
      const { grids, odd } = await observe();
      const diffs = PROBES.map(pr => ({ pr, diff: gridDiff(want.get(probeKey(pr))!, grids.get(probeKey(pr))!) })).filter(d => d.diff);
      if (diffs.length === 0) return Date.now() - started;
      last = diffs.map(d => `${probeKey(d.pr)} (round ${round}):\n${d.diff}`).join('\n\n') + (odd.length ? `\nodd answers: ${odd.slice(0, 10).join('; ')}` : '');
      if (Date.now() - started > SETTLE_MS) throw new Error(`${what}: the observed grid differs from the model after ${SETTLE_MS / 1000} s\n${last}`);
    }
  }

  beforeAll(async () => {
    t0 = Date.now();
    rootTablesBefore = (await execa('nft', ['list', 'tables'], { reject: false })).stdout;
    const up = await execa(k8tsBin, ['lab', 'up', '--name', name, '--nodes', '3', '--network', mode], { reject: false, timeout: 180_000 });
    labUp = true;
    if (up.exitCode !== 0) throw new Error(`lab up failed (${up.exitCode}):\n${up.stdout}\n${up.stderr}`);
    const state = JSON.parse(readFileSync(`/var/lib/k8ts-lab/${name}/lab.json`, 'utf8')) as { kubeconfig: string; plan: { nodes_: { name: string; netns: string; netnsPrefix: string; ip: string }[] } };
    ({ client, transport } = clientFromKubeconfig(state.kubeconfig, { userAgent: 'k8ts-netpol-e2e' }));
    const nodes = state.plan.nodes_;
    nodeNetns = nodes.map(n => n.netns);
    nodeIPs = nodes.map(n => n.ip);
    nodeNames = nodes.map(n => n.name);
    const nodeObjs = (await client.list<Node>(resources.nodes, undefined)).items;
    podCIDRs = nodes.map(n => nodeObjs.find(o => o.metadata?.name === n.name)?.spec?.podCIDR ?? '');

    for (const ns of NAMESPACES) await client.create(resources.namespaces, undefined, { metadata: { name: ns, labels: { ns } } });
    const ports = [80, 81].flatMap(port => (['TCP', 'UDP'] as const).map(protocol => ({ name: `serve-${port}-${protocol.toLowerCase()}`, containerPort: port, protocol })));
    for (const ns of NAMESPACES) {
      for (const [i, p] of PODS.entries()) {
        await client.create<Pod>(resources.pods, ns, {
          metadata: { name: p, namespace: ns, labels: { pod: p } },
          spec: {
            nodeName: nodes[i]!.name, terminationGracePeriodSeconds: 0,
            containers: [{
              name: 'main', image: testImageName, imagePullPolicy: 'IfNotPresent', ports,
              command: ['sh', '-c', 'httpd -f -p 80 -h /var/www & httpd -f -p 81 -h /var/www & udpecho -l 80 & udpecho -l 81 & wait'],
            }],
          },
        });
      }
    }
    await eventually('nine running pods', async () => {
      const found: LabPod[] = [];
      for (const ns of NAMESPACES) {
        for (const p of (await client.list<Pod>(resources.pods, ns)).items) {
          if (p.status?.phase !== 'Running' || !p.status.podIP) return undefined;
          const i = nodes.findIndex(n => n.name === p.spec?.nodeName);
          found.push({
            namespace: ns, name: p.metadata!.name!, ip: p.status.podIP, labels: p.metadata?.labels ?? {}, uid: p.metadata!.uid!,
            ports: p.spec!.containers.flatMap(c => (c.ports ?? []).map(x => ({ name: x.name!, containerPort: x.containerPort, protocol: x.protocol ?? 'TCP' }))),
            node: nodes[i]!.name, netns: `${nodes[i]!.netnsPrefix}${p.metadata!.uid!}`,
          });
        }
      }
      if (found.length !== 9) return undefined;
      pods.push(...found.sort((a, b) => (podKey(a) < podKey(b) ? -1 : 1)));
      return true;
    }, 120_000);
    for (const p of pods) {
      if (!existsSync(`/run/netns/${p.netns}`)) throw new Error(`no network namespace ${p.netns} for pod ${podKey(p)}`);
      probers.set(podKey(p), new Prober(p.netns));
    }
    // Every server answers (the servers start a moment after the pod runs).
    await expectGridToMatchModel('the servers before any policy');
    process.stderr.write(`netpol lab ${mode}: up with 9 serving pods in ${Date.now() - t0} ms\n`);
  });

  afterAll(async () => {
    for (const p of probers.values()) p.kill();
    transport?.close();
    if (labUp) await execa(k8tsBin, ['lab', 'down', '--name', name], { reject: false });
    process.stderr.write(`netpol lab ${mode}: ${Date.now() - t0} ms in all\n`);
  });

  it('without policies every pod reaches every pod, also with the pods\' own wget and udpecho', async () => {
    await setPolicies([]);
    await expectGridToMatchModel('no policies');
    const r = await transport!.exec('x', 'a', 'main', ['timeout', '3', 'wget', '-qO-', `http://${pod('y/b').ip}:81/cgi-bin/hostname`]);
    expect({ exit: r.exitCode, out: r.stdout.trim() }).toEqual({ exit: 0, out: 'b' });
    const u = await transport!.exec('z', 'c', 'main', ['udpecho', '-w', '500', '-n', '3', pod('x/a').ip, '80']);
    expect({ exit: u.exitCode, host: u.stdout.trim().split(/\s+/)[0] }).toEqual({ exit: 0, host: 'a' });
  });

  it('default-deny ingress', async () => {
    await setPolicies([policy('x', 'deny-ingress', { podSelector: {} })]);
    await expectGridToMatchModel('default-deny ingress in x');
    // The pods' own tools agree: same node (y/a → x/a) and across nodes (y/b → x/c).
    expect((await transport!.exec('y', 'a', 'main', ['udpecho', '-w', '300', '-n', '2', pod('x/a').ip, '81'])).exitCode).toBe(1);
    expect((await transport!.exec('y', 'b', 'main', ['timeout', '2', 'wget', '-qO-', `http://${pod('x/c').ip}:80/cgi-bin/hostname`])).exitCode).not.toBe(0);
  });

  it('default-deny all (ingress and egress)', async () => {
    await setPolicies([policy('y', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })]);
    await expectGridToMatchModel('default-deny all in y');
  });

  it('pod selector', async () => {
    await setPolicies([policy('x', 'a-from-b', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] })]);
    await expectGridToMatchModel('x/a from pods b of x');
  });

  it('namespace selector (matchExpressions)', async () => {
    await setPolicies([policy('x', 'a-from-y', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'In', values: ['y'] }] } }] }] })]);
    await expectGridToMatchModel('x/a from namespace y');
  });

  it('namespace and pod selector: together in one peer (AND), as two peers (OR)', async () => {
    await setPolicies([
      policy('x', 'and', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } }] }] }),
      policy('z', 'or', { podSelector: { matchLabels: { pod: 'c' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'x' } } }, { podSelector: { matchLabels: { pod: 'a' } } }] }] }),
    ]);
    await expectGridToMatchModel('AND in x, OR in z');
  });

  it('ports: a number, a named UDP port, a range with a protocol', async () => {
    await setPolicies([
      policy('x', 'ports', { podSelector: {}, ingress: [{ ports: [{ port: 81 }, { port: 'serve-80-udp', protocol: 'UDP' }] }] }),
      policy('y', 'range', { podSelector: { matchLabels: { pod: 'b' } }, ingress: [{ from: [{ namespaceSelector: {} }], ports: [{ protocol: 'UDP', port: 80, endPort: 81 }] }] }),
    ]);
    await expectGridToMatchModel('ports in x and y');
  });

  it('egress allow-lists, with a named port resolved on the destination', async () => {
    await setPolicies([
      policy('x', 'egress', {
        podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'],
        egress: [
          { to: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }], ports: [{ port: 80 }] },
          { to: [{ namespaceSelector: { matchLabels: { ns: 'z' } }, podSelector: { matchLabels: { pod: 'b' } } }], ports: [{ port: 'serve-81-udp', protocol: 'UDP' }] },
        ],
      }),
      policy('z', 'egress-deny', { podSelector: { matchLabels: { pod: 'c' } }, policyTypes: ['Egress'] }),
    ]);
    await expectGridToMatchModel('egress of x/a and z/c');
  });

  it('ipBlock with except, in both directions', async () => {
    await setPolicies([
      // Ingress to y from node 2's pods (the b pods) except x/b.
      policy('y', 'cidr-in', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: podCIDRs[1]!, except: [`${pod('x/b').ip}/32`] } }] }] }),
      // Egress from z/c anywhere in the cluster except node 1's pods (the a pods).
      policy('z', 'cidr-eg', { podSelector: { matchLabels: { pod: 'c' } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8', except: [podCIDRs[0]!] } }] }] }),
    ]);
    await expectGridToMatchModel('ipBlock in y and z');
  });

  it('host-network pods are neither policed nor peers, and the node\'s own traffic (kubelet probes) reaches policed pods', async () => {
    // Nothing in x or y may send or receive…
    await setPolicies(['x', 'y'].map(ns => policy(ns, 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })));
    await expectGridToMatchModel('default-deny all in x and y');
    const extra: string[] = [];
    try {
      // …except what upstream keeps open: a node reaching its own pods (same node: x/a on node 1,
      // y/b on node 2), which is how kubelet probes arrive.
      for (const [i, key] of [[0, 'x/a'], [1, 'y/b']] as const) {
        const fromNode = new Prober(nodeNetns[i]!);
        try { expect({ key, reached: await fromNode.grid([[pod(key).ip, 80, 'TCP']]) }).toEqual({ key, reached: [true] }); } finally { fromNode.kill(); }
      }
      // A pod created under the deny-all turns Ready through its HTTP readiness probe.
      await client.create<Pod>(resources.pods, 'x', {
        metadata: { name: 'probed', namespace: 'x', labels: { pod: 'probed' } },
        spec: {
          nodeName: nodeNames[0]!, terminationGracePeriodSeconds: 0,
          containers: [{ name: 'main', image: testImageName, imagePullPolicy: 'IfNotPresent', command: ['httpd', '-f', '-p', '80', '-h', '/var/www'], readinessProbe: { httpGet: { path: '/cgi-bin/hostname', port: 80 }, periodSeconds: 1 } }],
        },
      });
      extra.push('probed');
      await eventually('x/probed Ready through its probe under deny-all', async () => {
        const p = await client.get<Pod>(resources.pods, 'x', 'probed');
        return p.status?.conditions?.find(c => c.type === 'Ready')?.status === 'True' ? true : undefined;
      }, 60_000);
      // A host-network pod in x serves on node 2's address and calls out, although x denies all:
      // it is the node's traffic, not a pod's that policies select.
      await client.create<Pod>(resources.pods, 'x', {
        metadata: { name: 'hostnet', namespace: 'x', labels: { pod: 'hostnet' } },
        spec: {
          nodeName: nodeNames[1]!, hostNetwork: true, terminationGracePeriodSeconds: 0,
          containers: [{ name: 'main', image: testImageName, imagePullPolicy: 'IfNotPresent', command: ['httpd', '-f', '-p', '18080', '-h', '/var/www'] }],
        },
      });
      extra.push('hostnet');
      await eventually('x/hostnet running', async () => ((await client.get<Pod>(resources.pods, 'x', 'hostnet')).status?.phase === 'Running' ? true : undefined), 60_000);
      // From an unpoliced pod on another node (z/a, node 1): reached. From x/a, whose egress is denied: not.
      await eventually('z/a reaches the host-network pod', async () => ((await probers.get('z/a')!.grid([[nodeIPs[1]!, 18080, 'TCP']]))[0] === true ? true : undefined), 15_000);
      expect(await probers.get('x/a')!.grid([[nodeIPs[1]!, 18080, 'TCP']])).toEqual([false]);
      // Its own calls out are not policed (x/hostnet → z/c on node 3 works). y/c's ingress still is:
      // from another node the call arrives as node 2's traffic, a peer no policy of y admits (only
      // a node's traffic to its own pods is exempt, as upstream).
      const out = await transport!.exec('x', 'hostnet', 'main', ['timeout', '3', 'wget', '-qO-', `http://${pod('z/c').ip}:80/cgi-bin/hostname`]);
      expect({ exit: out.exitCode, out: out.stdout.trim() }).toEqual({ exit: 0, out: 'c' });
      const denied = await transport!.exec('x', 'hostnet', 'main', ['timeout', '3', 'wget', '-qO-', `http://${pod('y/c').ip}:80/cgi-bin/hostname`]);
      expect(denied.exitCode).not.toBe(0);
    } finally {
      for (const name of extra) await client.delete(resources.pods, 'x', name).catch(() => undefined);
    }
    await setPolicies([]);
  });

  it('applies after Service DNAT: a ClusterIP does not bypass a policy, on the same node or across nodes', async () => {
    await setPolicies([]);
    const svc = await client.create<Service>(resources.services, 'x', {
      metadata: { name: 'web-c', namespace: 'x' },
      spec: { selector: { pod: 'c' }, ports: [{ name: 'http', port: 8080, targetPort: 80, protocol: 'TCP' }] },
    });
    const vip = svc.spec!.clusterIP!;
    try {
      const via = async (client: string): Promise<boolean> => (await probers.get(client)!.grid([[vip, 8080, 'TCP']]))[0] === true;
      // z/c shares node 3 with x/c; z/b is on node 2: the DNAT happens on the client's node.
      await eventually('the Service reaches x/c', async () => ((await via('z/c')) && (await via('z/b')) ? true : undefined), 20_000);
      await setPolicies([policy('x', 'c-from-y', { podSelector: { matchLabels: { pod: 'c' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] })]);
      await expectGridToMatchModel('x/c from namespace y only');
      expect({ sameNode: await via('z/c'), otherNode: await via('z/b') }).toEqual({ sameNode: false, otherNode: false });
      expect({ sameNode: await via('y/c'), otherNode: await via('y/a') }).toEqual({ sameNode: true, otherNode: true });
    } finally {
      await client.delete(resources.services, 'x', 'web-c').catch(() => undefined);
    }
    await setPolicies([]);
  });

  it('follows namespace and pod label changes while the policy stays', async () => {
    const reaches = async (from: string, to: string): Promise<boolean> => (await probers.get(from)!.grid([[pod(to).ip, 80, 'TCP']]))[0] === true;
    const until = (what: string, from: string, to: string, want: boolean) =>
      eventually(what, async () => ((await reaches(from, to)) === want ? true : undefined), 5_000);
    await setPolicies([
      policy('x', 'a-from-blue', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'blue' } } }] }] }),
      policy('y', 'b-from-clients', { podSelector: { matchLabels: { pod: 'b' } }, ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }] }] }),
    ]);
    await until('z/b denied to x/a', 'z/b', 'x/a', false);
    await until('y/a denied to y/b', 'y/a', 'y/b', false);
    try {
      await client.patch(resources.namespaces, undefined, 'z', 'merge', { metadata: { labels: { team: 'blue' } } });
      await until('z/b admitted to x/a once z is blue', 'z/b', 'x/a', true);
      await client.patch(resources.pods, 'y', 'a', 'merge', { metadata: { labels: { role: 'client' } } });
      await until('y/a admitted to y/b once it is a client', 'y/a', 'y/b', true);
      expect(await reaches('y/c', 'y/b')).toBe(false);
    } finally {
      await client.patch(resources.namespaces, undefined, 'z', 'merge', { metadata: { labels: { team: null } } });
      await client.patch(resources.pods, 'y', 'a', 'merge', { metadata: { labels: { role: null } } });
    }
    await until('z/b denied again once the label is gone', 'z/b', 'x/a', false);
    await until('y/a denied again once the label is gone', 'y/a', 'y/b', false);
    await setPolicies([]);
  });

  it('a policy that cannot be compiled is reported in an Event and never breaks the others', async () => {
    await setPolicies([
      policy('x', 'no-such-port', { podSelector: {}, ingress: [{ ports: [{ port: 'no-such-port' }] }] }),
      policy('y', 'c-from-z', { podSelector: { matchLabels: { pod: 'c' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'z' } } }] }] }),
    ]);
    await expectGridToMatchModel('a named port nobody defines in x, a namespace selector in y');
    const event = await eventually('a PolicyMatchesNothing event', async () => {
      const events = (await client.list<Event>(resources.events, 'x')).items;
      return events.find(e => e.reason === 'PolicyMatchesNothing' && e.involvedObject.name === 'no-such-port');
    }, 15_000);
    expect(event.type).toBe('Warning');
    expect(event.message).toContain('"no-such-port"');
  });

  it('a policy added and removed while traffic flows takes effect within 1 s of the API change', async () => {
    await setPolicies([]);
    const prober = probers.get('z/b')!; // node 2 → node 3: enforced by the server's node
    const server = pod('x/c');
    const deny = policy('x', 'latency', { podSelector: { matchLabels: { pod: 'c' } }, policyTypes: ['Ingress'] });
    const added: number[] = [];
    const removed: number[] = [];
    for (let i = 0; i < LATENCY_REPS; i++) {
      let watching = prober.watch(server.ip, 80, 'TCP', false);
      await new Promise(r => setTimeout(r, 100)); // some connections before the change
      let t = Date.now();
      await client.create(networkPolicies, 'x', deny);
      let ms = enforcedAfter(await watching, false, t);
      if (ms === undefined) throw new Error(`repetition ${i + 1}: the deny never held`);
      added.push(ms);
      watching = prober.watch(server.ip, 80, 'TCP', true);
      await new Promise(r => setTimeout(r, 100));
      t = Date.now();
      await client.delete(networkPolicies, 'x', 'latency');
      ms = enforcedAfter(await watching, true, t);
      if (ms === undefined) throw new Error(`repetition ${i + 1}: the allow never came back`);
      removed.push(ms);
    }
    process.stderr.write(`netpol lab ${mode}: API change → enforced (ms), deny added ${added.join(' ')} (median ${median(added)}), removed ${removed.join(' ')} (median ${median(removed)})\n`);
    expect(median(added)).toBeLessThanOrEqual(1000);
    expect(median(removed)).toBeLessThanOrEqual(1000);
    await expectGridToMatchModel('after the last removal');
  });

  it('re-enables bridge-nf-call-iptables in the node namespace, so same-node traffic stays policed', async () => {
    await setPolicies([]);
    const node1 = nodeNetns[0]!;
    const hostValue = readSysctl(BRIDGE_NF_CALL_IPTABLES);
    writeSysctl(BRIDGE_NF_CALL_IPTABLES, '0', node1);
    // The next sync (any policy change) restores it; the grid then shows y/a → x/a (both on node 1) denied.
    await setPolicies([policy('x', 'a-deny', { podSelector: { matchLabels: { pod: 'a' } } })]);
    await eventually('bridge-nf-call-iptables back to 1 on node 1', async () => (readSysctl(BRIDGE_NF_CALL_IPTABLES, node1) === '1' ? true : undefined), 10_000);
    await expectGridToMatchModel('x/a denied, same node included');
    expect(readSysctl(BRIDGE_NF_CALL_IPTABLES)).toBe(hostValue);
    await setPolicies([]);
  });

  it('lab down leaves no namespace and no root table behind', async () => {
    for (const p of probers.values()) p.kill();
    probers.clear();
    transport?.close();
    transport = undefined;
    const down = await execa(k8tsBin, ['lab', 'down', '--name', name], { reject: false });
    labUp = false;
    expect(down.exitCode).toBe(0);
    expect(readdirSync('/run/netns').filter(n => n.startsWith(`k8ts-lab-${name}-`))).toEqual([]);
    expect((await execa('nft', ['list', 'tables'], { reject: false })).stdout).toBe(rootTablesBefore);
  });
});

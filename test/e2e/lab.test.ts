// `k8ts lab` end to end, once per pod network mode (VXLAN overlay, routed): a 3-node cluster in
// network namespaces, built by the real command, with real pods on real containerds. One lab per
// mode is shared by the cases (CI time): every node Ready; pod-to-pod TCP and UDP on one node and
// across nodes; node-to-pod; pod-to-node; pod to "the internet" (a namespace cabled to the
// underlay that has no route back to pods) masqueraded to the node's address; a ClusterIP Service
// reached from a pod on every node; and `lab down` leaves the host as it found it.
//
// Tools in pods: the busybox test image (httpd, wget) for TCP; busybox has no UDP server or
// client, so the UDP ends run the host's Node.js through a read-only hostPath of / and chroot —
// the program is the host's, the socket is the pod's.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { jest } from '@jest/globals';
import { execa } from 'execa';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { defaultRunDir } from '../../agent/cli.js';
import { testImageName } from '../images/build-busybox-image.js';
import { planLab } from '../../test-vm/lab/plan.js';
import { eventually, k8tsBin, kubectlPath } from './harness.js';

jest.setTimeout(300_000);

const kubectlBin = kubectlPath(32);
// k8ts-cni (the default); K8TS_LAB_E2E_CNI=reference runs the same cases on Debian's plugins.
const cni = process.env.K8TS_LAB_E2E_CNI === 'reference' ? 'reference' : 'k8ts';
// nftables (the default); K8TS_LAB_E2E_PROXY=iptables runs them with upstream's iptables layout.
const proxy = process.env.K8TS_LAB_E2E_PROXY === 'iptables' ? 'iptables' : 'nftables';
const UDP_SERVER = "const d=require('dgram').createSocket('udp4');d.on('message',(m,r)=>d.send(require('os').hostname()+' '+r.address,r.port,r.address));d.bind(9000)";
const UDP_CLIENT = "const d=require('dgram').createSocket('udp4');let n=0;const s=()=>{if(n++>5){console.log('TIMEOUT');process.exit(1)}d.send('ping',9000,process.argv[1])};d.on('message',m=>{console.log(String(m));process.exit(0)});s();setInterval(s,500)";
// An HTTP server for namespaces outside the cluster: answers the address it sees the client at.
const WHO_SERVER = "require('http').createServer((q,s)=>s.end(q.socket.remoteAddress)).listen(+process.argv[1],'0.0.0.0')";

/** What a lab may leave behind, as seen from the host; compared before `up` and after `down`. */
function hostSnapshot(labName: string, runDirs: string[]): Record<string, string[]> {
  const mine = (s: string) => s.includes(`k8ts-lab-${labName}-`) || s.includes(`/k8ts-lab/${labName}`) || runDirs.some(d => s.includes(d));
  const procs: string[] = [];
  for (const d of readdirSync('/proc').filter(x => /^\d+$/.test(x))) {
    try { const c = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' '); if (mine(c)) procs.push(`${d} ${c}`); } catch { /* gone */ }
  }
  return {
    netns: existsSync('/run/netns') ? readdirSync('/run/netns').filter(n => n.startsWith(`k8ts-lab-${labName}-`)) : [],
    mounts: readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map(l => l.split(' ')[4] ?? '').filter(mine),
    runDirs: runDirs.filter(d => existsSync(d)),
    labDir: existsSync(`/var/lib/k8ts-lab/${labName}`) ? [labName] : [],
    procs,
  };
}

async function rootLinks(): Promise<string> {
  return (await execa('ip', ['-o', 'link', 'show'])).stdout.split('\n').map(l => l.split(':').slice(0, 2).join(':')).sort().join('\n');
}
async function rootTables(): Promise<string> {
  return (await execa('nft', ['list', 'tables'], { reject: false })).stdout;
}
async function rootRoutes(): Promise<string> {
  return [(await execa('ip', ['route', 'show', 'table', 'all'])).stdout, (await execa('ip', ['rule'])).stdout].join('\n');
}

describe.each((process.env.K8TS_LAB_E2E_MODES?.split(',') ?? ['vxlan', 'routed']) as ('vxlan' | 'routed')[])('k8ts lab, network %s', mode => {
  const name = `e2e${mode.slice(0, 2)}${randomBytes(2).toString('hex')}`;
  const inet = `k8ts-t-${randomBytes(3).toString('hex')}-inet`;
  let kubeconfig = '';
  let before: Record<string, string[]> = {};
  let beforeRoot = { links: '', tables: '', routes: '' };
  let runDirs: string[] = [];
  let nodeIPs: string[] = [];
  let upMs = 0;
  let servers: { kill(sig: NodeJS.Signals): unknown; catch(f: () => undefined): Promise<unknown> }[] = [];
  const pods = new Map<string, { ip: string; node: string }>();

  const kubectl = (args: string[], timeout = 60_000) => execa(kubectlBin, ['--kubeconfig', kubeconfig, ...args], { reject: false, timeout });
  const inPod = (pod: string, container: string, argv: string[]) => kubectl(['exec', pod, '-c', container, '--', ...argv], 30_000);
  // (busybox 1.35's wget crashes with -T: busybox timeout bounds it instead)
  const wget = (pod: string, url: string) => inPod(pod, 'web', ['timeout', '5', 'wget', '-qO-', url]);
  const udp = (pod: string, ip: string) => inPod(pod, 'udp', ['chroot', '/host', process.execPath, '-e', UDP_CLIENT, ip]);
  const onNode = (node: string, argv: string[]) => execa(k8tsBin, ['lab', 'exec', '--name', name, node, '--', ...argv], { reject: false, timeout: 30_000 });

  function toolPod(pod: string, node: string): Pod {
    return {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: pod, labels: { app: 'lab-web' } },
      spec: {
        nodeName: node, terminationGracePeriodSeconds: 0,
        volumes: [{ name: 'host', hostPath: { path: '/' } }],
        containers: [
          { name: 'web', image: testImageName, command: ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && dd if=/dev/zero of=/www/big bs=1024 count=1024 2>/dev/null && exec httpd -f -p 8080 -h /www'] },
          { name: 'udp', image: testImageName, command: ['chroot', '/host', process.execPath, '-e', UDP_SERVER], volumeMounts: [{ name: 'host', mountPath: '/host', readOnly: true }] },
        ],
      },
    };
  }

  beforeAll(async () => {
    // The layout the lab will use, to know its run dirs before it exists (index 1 is a guess:
    // the run dirs depend on the data dirs only, which do not depend on the index).
    const plan = planLab({ name, nodes: 3, network: mode, proxy, cni, index: 1 });
    runDirs = plan.nodes_.map(n => defaultRunDir(n.agentDataDir));
    before = hostSnapshot(name, runDirs);
    beforeRoot = { links: await rootLinks(), tables: await rootTables(), routes: await rootRoutes() };
    const t0 = Date.now();
    const up = await execa(k8tsBin, ['lab', 'up', '--name', name, '--nodes', '3', '--network', mode, '--cni', cni, '--proxy', proxy], { reject: false, timeout: 180_000 });
    upMs = Date.now() - t0;
    process.stderr.write(`k8ts lab up --network ${mode}: ${upMs} ms\n${up.stdout}\n`);
    if (up.exitCode !== 0) throw new Error(`lab up failed (${up.exitCode}):\n${up.stdout}\n${up.stderr}`);
    const state = JSON.parse(readFileSync(`/var/lib/k8ts-lab/${name}/lab.json`, 'utf8')) as { kubeconfig: string; plan: { switchNetns: string; gateway: string; nodes_: { ip: string; name: string }[] } };
    kubeconfig = state.kubeconfig;
    nodeIPs = state.plan.nodes_.map(n => n.ip);

    // "The internet": a namespace on the underlay, holding 198.51.100.1 behind 172.30.L.250, with
    // no route to any pod network: only masqueraded pod traffic can be answered.
    const sw = state.plan.switchNetns;
    const lanIP = state.plan.gateway.replace(/\.1$/, '.250');
    await execa('ip', ['netns', 'add', inet]);
    await execa('ip', ['-n', sw, 'link', 'add', 'inet', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', inet]);
    await execa('ip', ['-n', sw, 'link', 'set', 'inet', 'master', 'br0', 'up']);
    await execa('ip', ['-n', sw, 'route', 'add', '198.51.100.1/32', 'via', lanIP]);
    for (const a of [['link', 'set', 'lo', 'up'], ['addr', 'add', `${lanIP}/24`, 'dev', 'eth0'], ['addr', 'add', '198.51.100.1/32', 'dev', 'lo'], ['link', 'set', 'eth0', 'up']]) await execa('ip', ['-n', inet, ...a]);
    servers.push(execa('nsenter', [`--net=/run/netns/${inet}`, process.execPath, '-e', WHO_SERVER, '7000'], { reject: false }));
    // A server in node 2's own namespace (pod-to-node).
    servers.push(execa('nsenter', [`--net=/run/netns/k8ts-lab-${name}-n2`, process.execPath, '-e', WHO_SERVER, '7001'], { reject: false }));

    // Two tool pods on node 1, one on each other node.
    const layout: [string, number][] = [['a1', 0], ['a2', 0], ['b1', 1], ['c1', 2]];
    for (const [pod, i] of layout) {
      const c = await execa(kubectlBin, ['--kubeconfig', kubeconfig, 'apply', '-f', '-'], { input: JSON.stringify(toolPod(pod, state.plan.nodes_[i]!.name)), reject: false });
      if (c.exitCode !== 0) throw new Error(`creating pod ${pod}: ${c.stderr}`);
    }
    await eventually('four running tool pods', async () => {
      const r = await kubectl(['get', 'pods', '-o', 'json']);
      const items = (JSON.parse(r.stdout || '{"items":[]}') as { items: Pod[] }).items;
      const ready = items.filter(p => p.status?.conditions?.some(c => c.type === 'Ready' && c.status === 'True') && p.status.podIP);
      if (ready.length < 4) return undefined;
      for (const p of ready) pods.set(p.metadata!.name!, { ip: p.status!.podIP!, node: p.spec!.nodeName! });
      return true;
    }, 90_000);
    // UDP servers are up once they answer locally.
    for (const p of pods.keys()) await eventually(`the UDP server of ${p}`, async () => ((await udp(p, '127.0.0.1')).exitCode === 0 ? true : undefined), 30_000);
  });

  afterAll(async () => {
    for (const s of servers) s.kill('SIGKILL');
    await Promise.all(servers.map(s => s.catch(() => undefined)));
    servers = [];
    await execa(k8tsBin, ['lab', 'down', '--name', name], { reject: false });
    await execa('ip', ['netns', 'delete', inet], { reject: false });
  });

  it('comes up with every node Ready, each with its own podCIDR', async () => {
    const r = await kubectl(['get', 'nodes', '-o', 'json']);
    const nodes = (JSON.parse(r.stdout) as { items: { spec: { podCIDR?: string }; status: { conditions: { type: string; status: string }[]; addresses: { address: string }[] } }[] }).items;
    expect(nodes).toHaveLength(3);
    for (const n of nodes) expect(n.status.conditions.find(c => c.type === 'Ready')?.status).toBe('True');
    const cidrs = nodes.map(n => n.spec.podCIDR);
    expect(new Set(cidrs).size).toBe(3);
    expect(nodes.map(n => n.status.addresses[0]!.address).sort()).toEqual([...nodeIPs].sort());
    // Pods got addresses from their node's podCIDR.
    expect(new Set([...pods.values()].map(p => p.ip.split('.').slice(0, 3).join('.'))).size).toBe(3);
  });

  it('carries pod-to-pod TCP on one node and across nodes', async () => {
    for (const [from, to] of [['a1', 'a2'], ['a1', 'b1'], ['b1', 'c1'], ['c1', 'a2']] as const) {
      const r = await wget(from, `http://${pods.get(to)!.ip}:8080/`);
      expect({ from, to, out: r.stdout.trim() }).toEqual({ from, to, out: to });
    }
    // 1 MiB in full-size segments across nodes: a wrong pod MTU over the overlay stalls here.
    const big = await inPod('a1', 'web', ['sh', '-c', `timeout 10 wget -qO- http://${pods.get('b1')!.ip}:8080/big | wc -c`]);
    expect(big.stdout.trim()).toBe('1048576');
  });

  it('carries pod-to-pod UDP on one node and across nodes, without NAT', async () => {
    for (const [from, to] of [['a1', 'a2'], ['a1', 'b1'], ['c1', 'b1']] as const) {
      const r = await udp(from, pods.get(to)!.ip);
      // The server sees the client's own pod IP: pod-to-pod is never masqueraded.
      expect({ from, to, out: r.stdout.trim() }).toEqual({ from, to, out: `${to} ${pods.get(from)!.ip}` });
    }
  });

  it('reaches pods from nodes and nodes from pods', async () => {
    const r = await onNode('n3', ['busybox', 'wget', '-qO-', `http://${pods.get('a1')!.ip}:8080/`]);
    expect(r.stdout.trim()).toBe('a1');
    const back = await wget('a1', `http://${nodeIPs[1]}:7001/`);
    // The answer is whatever the server saw as the client address: a pod or node address.
    expect(back.stdout.trim()).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  });

  it('masquerades pod traffic to the internet behind the node address', async () => {
    for (const p of ['a1', 'b1']) {
      const r = await wget(p, 'http://198.51.100.1:7000/');
      const node = pods.get(p)!.node;
      const nodeIP = nodeIPs[Number(node.split('-n').pop()) - 1];
      expect({ p, seen: r.stdout.trim() }).toEqual({ p, seen: nodeIP });
    }
  });

  it('serves a ClusterIP Service to pods on every node', async () => {
    expect((await kubectl(['expose', 'pod', 'a1', '--name', 'web', '--port', '80', '--target-port', '8080', '--selector', 'app=lab-web'])).exitCode).toBe(0);
    const ip = (await kubectl(['get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}'])).stdout;
    for (const p of ['a1', 'b1', 'c1']) {
      const seen = await eventually(`the Service from ${p}`, async () => {
        const r = await wget(p, `http://${ip}/`);
        return r.exitCode === 0 && pods.has(r.stdout.trim()) ? r.stdout.trim() : undefined;
      }, 30_000);
      expect(pods.has(seen)).toBe(true);
    }
  });

  it('lab down leaves the host as it was', async () => {
    const t0 = Date.now();
    for (const s of servers) s.kill('SIGKILL');
    await Promise.all(servers.map(s => s.catch(() => undefined)));
    servers = [];
    const down = await execa(k8tsBin, ['lab', 'down', '--name', name], { reject: false });
    process.stderr.write(`k8ts lab down: ${Date.now() - t0} ms\n`);
    expect(down.exitCode).toBe(0);
    await execa('ip', ['netns', 'delete', inet], { reject: false });
    expect(hostSnapshot(name, runDirs)).toEqual(before);
    expect(await rootLinks()).toBe(beforeRoot.links);
    expect(await rootTables()).toBe(beforeRoot.tables);
    expect(await rootRoutes()).toBe(beforeRoot.routes);
  });
});

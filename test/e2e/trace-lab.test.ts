// `k8ts trace` against known paths in a real 2-node `k8ts lab`, once per pod network (VXLAN
// overlay, routed) with the nftables proxy, and once with the iptables proxy (iptables-nft rules,
// upstream's KUBE-* layout) over VXLAN: a Deployment of two web pods pinned to node 2, a NodePort Service over them,
// and a client pod on node 1. The trace from the client must name the proxy's chains, give the
// two web pods as the DNAT choice set, leave by the VXLAN device with the FDB entry pointing at
// node 2 (vxlan) or by the route via node 2 (routed), and its nftrace probe must see the packet
// DNATed to one of them; for the ClusterIP and for the NodePort on node 1's own address.
// Nothing is left behind: no trace table in the node's namespace.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { jest } from '@jest/globals';
import { execa } from 'execa';
import type { Pod, Service } from 'kubernetes-types/core/v1.js';
import { VXLAN_DEVICE, vtepMacFor } from '../../netplugins/index.js';
import type { LabPlan } from '../../test-vm/lab/plan.js';
import type { TracePath } from '../../cli/trace/path.js';
import type { Confirmation } from '../../cli/trace/cli.js';
import { testImageName } from '../images/build-busybox-image.js';
import { eventually, k8tsBin, kubectlPath } from './harness.js';

jest.setTimeout(240_000);

interface TraceJson { path: TracePath; probe?: Confirmation; probeError?: string }

const modes = (process.env.K8TS_TRACE_E2E_MODES ?? 'vxlan/nftables,routed/nftables,vxlan/iptables').split(',');

describe.each(modes)('k8ts trace in a lab, %s', (spec: string) => {
  const [mode, proxy] = spec.split('/') as ['vxlan' | 'routed', 'nftables' | 'iptables'];
  const name = `tr${mode.slice(0, 2)}${proxy.slice(0, 2)}${randomBytes(2).toString('hex')}`;
  let kubeconfig = '';
  let plan: LabPlan;
  let webIPs: string[] = [];
  const kubectl = (args: string[], input?: string) =>
    execa(kubectlPath(32), ['--kubeconfig', kubeconfig, ...args], { reject: false, timeout: 60_000, ...(input ? { input } : {}) });
  const trace = async (args: string[]): Promise<TraceJson> => {
    const r = await execa(k8tsBin, ['trace', '--lab', name, '--from', 'client', ...args, '-o', 'json'], { reject: false, timeout: 60_000 });
    if (!r.stdout.trim().startsWith('{')) throw new Error(`k8ts trace ${args.join(' ')} failed (${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
    return JSON.parse(r.stdout) as TraceJson;
  };

  beforeAll(async () => {
    const up = await execa(k8tsBin, ['lab', 'up', '--name', name, '--nodes', '2', '--network', mode, '--proxy', proxy], { reject: false, timeout: 180_000 });
    if (up.exitCode !== 0) throw new Error(`lab up failed (${up.exitCode}):\n${up.stdout}\n${up.stderr}`);
    const state = JSON.parse(readFileSync(`/var/lib/k8ts-lab/${name}/lab.json`, 'utf8')) as { kubeconfig: string; plan: LabPlan };
    ({ kubeconfig, plan } = state);
    const [n1, n2] = plan.nodes_;
    const manifests = [
      {
        apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
        spec: {
          replicas: 2, selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: {
              nodeSelector: { 'kubernetes.io/hostname': n2!.name }, terminationGracePeriodSeconds: 0,
              containers: [{ name: 'web', image: testImageName, command: ['httpd', '-f', '-p', '8080'], ports: [{ containerPort: 8080 }] }],
            },
          },
        },
      },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
      {
        apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client' },
        spec: { nodeName: n1!.name, terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: testImageName, command: ['sleep', '3600'] }] },
      },
    ];
    const applied = await kubectl(['apply', '-f', '-'], manifests.map(m => JSON.stringify(m)).join('\n'));
    expect(applied.exitCode).toBe(0);
    webIPs = await eventually('two web pods and the client running', async () => {
      const pods = JSON.parse((await kubectl(['get', 'pods', '-o', 'json'])).stdout || '{"items":[]}') as { items: Pod[] };
      const ready = pods.items.filter(p => p.status?.conditions?.some(c => c.type === 'Ready' && c.status === 'True') && p.status.podIP);
      const web = ready.filter(p => p.metadata?.labels?.app === 'web');
      return web.length === 2 && ready.some(p => p.metadata?.name === 'client') ? web.map(p => p.status!.podIP!).sort() : undefined;
    }, 90_000);
    // The proxy on node 1 has both endpoints once the trace computes them.
    await eventually('both endpoints programmed on node 1', async () => {
      const t = await trace(['--to', 'web', '--no-probe']);
      return t.path.dnat?.choices.length === 2 ? true : undefined;
    }, 30_000);
  });

  afterAll(async () => {
    await execa(k8tsBin, ['lab', 'down', '--name', name], { reject: false });
  });

  function expectLeavesForNode2(t: TracePath): void {
    const n2 = plan.nodes_[1]!;
    expect(t.endpoints.map(e => e.endpoint.ip).sort()).toEqual(webIPs);
    for (const e of t.endpoints) {
      if (mode === 'vxlan') {
        expect(e.hop).toMatchObject({ kind: 'vxlan', dev: VXLAN_DEVICE, vxlan: { vtep: n2.ip, neighMac: vtepMacFor(n2.name), underlayDev: 'eth0' } });
      } else {
        expect(e.hop).toMatchObject({ kind: 'routed', via: n2.ip, dev: 'eth0' });
      }
      expect(e.egress.verdict).toBe('allowed');
      expect(e.ingress.verdict).toBe('allowed');
    }
  }

  it('traces a ClusterIP to pods on the other node: the chains, the endpoint set, the way out, and a probe DNATed to one of them', async () => {
    const svc = JSON.parse((await kubectl(['get', 'service', 'web', '-o', 'json'])).stdout) as Service;
    const t = await trace(['--to', 'web']);
    expect(t.probeError).toBeUndefined();
    expect(t.path.flow).toMatchObject({ daddr: svc.spec!.clusterIP, dport: 80, proto: 'tcp' });
    if (proxy === 'nftables') {
      expect(t.path.prerouting.hits).toEqual(expect.arrayContaining([
        expect.objectContaining({ table: 'k8ts-proxy', chain: 'nat-prerouting', effect: 'jump services' }),
        expect.objectContaining({ table: 'k8ts-proxy', chain: 'services', effect: '@service-ips → goto lb-2' }),
      ]));
      expect(t.path.dnat).toMatchObject({ table: 'k8ts-proxy', chain: 'lb-2' });
    } else {
      expect(t.path.prerouting.hits).toEqual(expect.arrayContaining([
        expect.objectContaining({ table: 'nat', chain: 'KUBE-SERVICES', effect: expect.stringMatching(/^jump KUBE-SVC-/) }),
        expect.objectContaining({ table: 'nat', chain: expect.stringMatching(/^KUBE-SVC-/), effect: expect.stringMatching(/^jump KUBE-SEP-/) }),
      ]));
      expect(t.path.dnat).toMatchObject({ table: 'nat', chain: expect.stringMatching(/^KUBE-SEP-/) });
    }
    expect(t.path.dnat!.choices.map(c => ({ ...c })).sort((a, b) => a.ip.localeCompare(b.ip))).toEqual(webIPs.map(ip => ({ ip, port: 8080, probability: 0.5 })));
    expectLeavesForNode2(t.path);
    // The pod's own traffic to a pod is not masqueraded.
    for (const e of t.path.endpoints) { expect(e.postrouting?.hook).toBe('postrouting'); expect(e.postrouting!.masquerade).toBeUndefined(); }
    expect(t.probe).toMatchObject({ dnatSeen: true, outcome: 'connected' });
    expect(webIPs).toContain(t.probe!.seenDaddr);
    expect(t.probe!.chains).toEqual(expect.arrayContaining(proxy === 'nftables'
      ? ['k8ts-proxy/services', 'k8ts-proxy/lb-2', 'k8ts-proxy/filter-forward']
      : ['nat/KUBE-SERVICES', expect.stringMatching(/^nat\/KUBE-SVC-/), expect.stringMatching(/^nat\/KUBE-SEP-/)]));

    // The readable form says the same.
    const text = (await execa(k8tsBin, ['trace', '--lab', name, '--from', 'client', '--to', 'web:http'])).stdout;
    expect(text).toContain(proxy === 'nftables' ? 'k8ts-proxy services' : '-A KUBE-SERVICES -d');
    expect(text).toMatch(proxy === 'nftables' ? /DNAT in k8ts-proxy\/lb-2 to one of 2 endpoint/ : /DNAT in nat\/KUBE-SEP-\S+ to one of 2 endpoint/);
    expect(text).toMatch(mode === 'vxlan' ? new RegExp(`dev ${VXLAN_DEVICE.replace('.', '\\.')} onlink.*fdb \\S+ dst ${plan.nodes_[1]!.ip}`) : new RegExp(`via ${plan.nodes_[1]!.ip} dev eth0.*next hop`));
    expect(text).toMatch(/confirmed: DNAT to 10\./);
  });

  it('traces the NodePort on the node\'s own address: ext chain, masquerade, the same endpoints, and a DNATed probe', async () => {
    const svc = JSON.parse((await kubectl(['get', 'service', 'web', '-o', 'json'])).stdout) as Service;
    const t = await trace(['--to', 'web', '--node-port']);
    expect(t.probeError).toBeUndefined();
    expect(t.path.flow).toMatchObject({ daddr: plan.nodes_[0]!.ip, dport: svc.spec!.ports![0]!.nodePort });
    if (proxy === 'nftables') {
      expect(t.path.prerouting.hits).toEqual(expect.arrayContaining([
        expect.objectContaining({ table: 'k8ts-proxy', chain: 'services', effect: '@service-ips → goto ext-2' }),
        expect.objectContaining({ table: 'k8ts-proxy', chain: 'ext-2', effect: 'goto lb-2' }),
      ]));
      expect(t.path.dnat).toMatchObject({ chain: 'lb-2' });
    } else {
      expect(t.path.prerouting.hits).toEqual(expect.arrayContaining([
        expect.objectContaining({ table: 'nat', chain: 'KUBE-NODEPORTS', effect: expect.stringMatching(/^jump KUBE-EXT-/) }),
        expect.objectContaining({ table: 'nat', chain: 'KUBE-MARK-MASQ', effect: 'mark set 0x4000' }),
      ]));
      expect(t.path.dnat).toMatchObject({ chain: expect.stringMatching(/^KUBE-SEP-/) });
    }
    expect(t.path.dnat!.choices.map(c => c.ip).sort()).toEqual(webIPs);
    expectLeavesForNode2(t.path);
    for (const e of t.path.endpoints) expect(e.postrouting?.masquerade).toMatchObject(proxy === 'nftables' ? { table: 'k8ts-proxy', chain: 'masquerading' } : { table: 'nat', chain: 'KUBE-POSTROUTING' });
    expect(t.probe).toMatchObject({ dnatSeen: true, outcome: 'connected' });
    expect(t.probe!.chains).toEqual(expect.arrayContaining(proxy === 'nftables'
      ? ['k8ts-proxy/ext-2', 'k8ts-proxy/lb-2', 'k8ts-proxy/masquerading']
      : ['nat/KUBE-NODEPORTS', expect.stringMatching(/^nat\/KUBE-EXT-/), 'nat/KUBE-POSTROUTING']));
    // The probe's table is gone from the node.
    const tables = (await execa('ip', ['netns', 'exec', plan.nodes_[0]!.netns, 'nft', 'list', 'tables'])).stdout;
    expect(tables).not.toContain('k8ts-trace');
    expect(tables).toContain(proxy === 'nftables' ? 'k8ts-proxy' : 'table ip nat');
  });
});

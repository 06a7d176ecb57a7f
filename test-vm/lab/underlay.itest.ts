// The lab's underlay for real (buildUnderlay, the code `k8ts lab up` and bench/network's
// bare-topology ceiling both run): a switch namespace whose bridge is a plain L2 switch — no
// br_netfilter hooks, which br_netfilter turns on by default in every new namespace — and node
// namespaces cabled to it that reach each other through it. The node namespaces keep the kernel's
// default: turning bridge-nf-call-iptables on there (for NetworkPolicy on a node's own bridge) is
// the netpol daemon's business, not the lab's.
import { jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { deleteNetns, execInNetns } from '../../kernel/netns.js';
import { buildUnderlay } from './lab.js';
import { planLab, type LabPlan } from './plan.js';

jest.setTimeout(60_000);

const plan: LabPlan = planLab({ name: `t${randomBytes(3).toString('hex')}`, nodes: 2, network: 'routed', proxy: 'nftables', cni: 'k8ts', index: 251 });
const namespaces = [plan.switchNetns, ...plan.nodes_.map((n) => n.netns)];
const sysctl = async (ns: string, key: string): Promise<string> => (await execInNetns(ns, 'cat', [`/proc/sys/${key}`])).trim();
const hasBrNetfilter = existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables');

beforeAll(async () => {
  await buildUnderlay(plan);
});

afterAll(async () => {
  for (const ns of namespaces) await deleteNetns(ns).catch(() => undefined);
});

describe('lab underlay', () => {
  test('the switch forwards IPv4 and its bridge calls no netfilter hooks', async () => {
    expect(await sysctl(plan.switchNetns, 'net/ipv4/ip_forward')).toBe('1');
    if (!hasBrNetfilter) return; // without br_netfilter a bridge never calls them
    for (const key of ['bridge-nf-call-iptables', 'bridge-nf-call-ip6tables', 'bridge-nf-call-arptables']) {
      expect(`${key}=${await sysctl(plan.switchNetns, `net/bridge/${key}`)}`).toBe(`${key}=0`);
    }
  });

  test('node namespaces keep the kernel default for their own bridges', async () => {
    if (!hasBrNetfilter) return;
    for (const n of plan.nodes_) expect(await sysctl(n.netns, 'net/bridge/bridge-nf-call-iptables')).toBe('1');
  });

  test('nodes reach each other and the gateway through the switch', async () => {
    const [a, b] = plan.nodes_;
    await expect(execInNetns(a!.netns, 'busybox', ['ping', '-c', '1', '-W', '2', b!.ip])).resolves.toMatch(/1 packets received/);
    await expect(execInNetns(b!.netns, 'busybox', ['ping', '-c', '1', '-W', '2', plan.gateway])).resolves.toMatch(/1 packets received/);
  });
});

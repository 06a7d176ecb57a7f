import { agentArgs, checkLabName, findNode, pickIndex, planLab, proxyArgs, serverArgs, withServer } from './plan.js';

describe('lab layout', () => {
  const p = planLab({ name: 'demo', nodes: 3, network: 'vxlan', proxy: 'nftables', cni: 'k8ts', index: 7 });

  it('gives every node its own namespace, address, folders and pod namespace prefix', () => {
    expect(p.switchNetns).toBe('k8ts-lab-demo-sw');
    expect(p.gateway).toBe('172.30.7.1');
    expect(p.nodes_.map(n => [n.name, n.netns, n.ip, n.role])).toEqual([
      ['demo-n1', 'k8ts-lab-demo-n1', '172.30.7.11', 'server'],
      ['demo-n2', 'k8ts-lab-demo-n2', '172.30.7.12', 'agent'],
      ['demo-n3', 'k8ts-lab-demo-n3', '172.30.7.13', 'agent'],
    ]);
    expect(new Set(p.nodes_.map(n => n.agentDataDir)).size).toBe(3);
    expect(new Set(p.nodes_.map(n => n.cniConfDir)).size).toBe(3);
    expect(p.nodes_[0]!.agentDataDir).toBe('/var/lib/k8ts-lab/demo/n1/server/agent');
    expect(p.serverURL).toBe('https://172.30.7.11:6443');
  });

  it('keeps pod namespace names (prefix + a 36-character uid) within 64 characters for the longest name', () => {
    const long = planLab({ name: 'abcdefghijkl', nodes: 50, network: 'routed', proxy: 'nftables', cni: 'k8ts', index: 254 });
    for (const n of long.nodes_) expect(n.netnsPrefix.length + 36).toBeLessThanOrEqual(64);
    for (const n of long.nodes_) expect(n.switchPort.length).toBeLessThanOrEqual(15);
  });

  it('rejects names that would not make valid namespace or Node names', () => {
    for (const bad of ['', 'A', '-x', 'x-', 'a_b', 'abcdefghijklm', 'a.b']) expect(() => checkLabName(bad)).toThrow(/invalid lab name/);
    for (const good of ['a', 'lab', 'e2e-vx-01', 'abcdefghijkl']) expect(() => checkLabName(good)).not.toThrow();
    expect(() => planLab({ name: 'x', nodes: 0, network: 'vxlan', proxy: 'nftables', cni: 'k8ts', index: 1 })).toThrow(/node count/);
    expect(() => planLab({ name: 'x', nodes: 3, network: 'vxlan', proxy: 'nftables', cni: 'k8ts', index: 255 })).toThrow(/index/);
  });

  it('picks the first free underlay index', () => {
    expect(pickIndex([])).toBe(1);
    expect(pickIndex([1, 2, 4])).toBe(3);
    expect(() => pickIndex(Array.from({ length: 254 }, (_, i) => i + 1))).toThrow(/254 labs/);
  });

  it('passes each node its own folders and the network mode', () => {
    const s = serverArgs(p);
    expect(s.slice(0, 1)).toEqual(['server']);
    expect(s.join(' ')).toContain('--network vxlan');
    expect(s.join(' ')).toContain('--cni-conf-dir /var/lib/k8ts-lab/demo/n1/cni-conf');
    expect(s.join(' ')).toContain('--netns-prefix k8ts-lab-demo-n1-');
    expect(s.join(' ')).toContain('--cni-bin-dir /var/lib/k8ts-lab/demo/cni-bin:/usr/lib/cni');
    expect(serverArgs(planLab({ name: 'demo', nodes: 1, network: 'routed', proxy: 'nftables', cni: 'reference', index: 1 })).join(' ')).toContain('--cni-bin-dir /usr/lib/cni ');
    const a = agentArgs(p, p.nodes_[1]!);
    expect(a.join(' ')).toContain('--server https://172.30.7.11:6443');
    expect(a.join(' ')).toContain('--node-ip 172.30.7.12');
    expect(a.join(' ')).toContain('--data-dir /var/lib/k8ts-lab/demo/n2/agent');
    // Every kubelet gets the server's cluster DNS IP, or its pods fall back to the node's resolver.
    expect(s.join(' ')).toContain('--cluster-dns 10.43.0.10');
    expect(a.join(' ')).toContain('--cluster-dns 10.43.0.10');
    expect(s.join(' ')).toContain('--proxy-mode nftables');
    expect(proxyArgs(p, p.nodes_[2]!, '/k').join(' ')).toBe('proxy --kubeconfig /k --proxy-mode nftables --node-name demo-n3 --cluster-cidr 10.42.0.0/16 --service-cidr 10.43.0.0/16');
  });

  it('finds nodes by short name, number or Node name', () => {
    expect(findNode(p, 'n2').name).toBe('demo-n2');
    expect(findNode(p, '3').name).toBe('demo-n3');
    expect(findNode(p, 'demo-n1').name).toBe('demo-n1');
    expect(() => findNode(p, 'n4')).toThrow(/no node "n4"/);
  });

  it('rewrites only the server line of a kubeconfig', () => {
    const kc = 'apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: abc\n    server: https://127.0.0.1:6443\n  name: k8ts\n';
    expect(withServer(kc, 'https://127.0.0.1:40000')).toBe(kc.replace('https://127.0.0.1:6443', 'https://127.0.0.1:40000'));
  });
});

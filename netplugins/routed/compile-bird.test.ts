import { compileBirdConfig } from './compile-bird.js';

const input = { routerId: '192.168.77.11', asn: 64512, podCidr: '10.244.1.0/24', clusterCidr: '10.244.0.0/16', peers: [{ name: 'node-3', ip: '192.168.77.13' }, { name: 'node-2', ip: '192.168.77.12' }] };

describe('compileBirdConfig', () => {
  it('announces our block, installs only BGP routes, and meshes with every peer in name order', () => {
    const c = compileBirdConfig(input);
    expect(c).toContain('router id 192.168.77.11;');
    expect(c).toContain('route 10.244.1.0/24 blackhole;');
    expect(c).toContain('export where source = RTS_BGP;');
    expect(c).toContain('import where net ~ [ 10.244.0.0/16+ ] && net != 10.244.1.0/24 && !(net ~ [ 10.244.1.0/24+ ]);');
    expect(c).toContain('export where proto = "k8ts_block";');
    const peers = [...c.matchAll(/protocol bgp (\S+) from k8ts_mesh \{\n {2}description "([^"]+)";\n {2}neighbor (\S+) as 64512;/g)].map((m) => [m[1], m[2], m[3]]);
    expect(peers).toEqual([['node_node_2', 'node-2', '192.168.77.12'], ['node_node_3', 'node-3', '192.168.77.13']]);
  });

  it('gives distinct protocol names to node names that differ only in punctuation', () => {
    const c = compileBirdConfig({ ...input, peers: [{ name: 'a.b', ip: '192.168.77.12' }, { name: 'a-b', ip: '192.168.77.13' }] });
    expect([...c.matchAll(/protocol bgp (\S+)/g)].map((m) => m[1])).toEqual(['node_a_b', 'node_a_b_2']);
  });

  it('is deterministic and has no peers section when alone', () => {
    expect(compileBirdConfig(input)).toBe(compileBirdConfig({ ...input, peers: [...input.peers].reverse() }));
    expect(compileBirdConfig({ ...input, peers: [] })).not.toContain('protocol bgp');
  });

  it('rejects non-IPv4 CIDRs', () => {
    expect(() => compileBirdConfig({ ...input, clusterCidr: 'fd00::/48' })).toThrow(/IPv4/);
  });
});

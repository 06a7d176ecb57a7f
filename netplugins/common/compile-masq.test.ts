import { renderNft } from '../../kernel/nftables/render.js';
import { compileMasquerade, MASQ_TABLE } from './compile-masq.js';

describe('compileMasquerade', () => {
  it('masquerades pods leaving the cluster network, never pod-to-pod, never proxy-marked packets', () => {
    const rs = compileMasquerade('10.244.0.0/16');
    expect(rs.table).toBe(MASQ_TABLE);
    expect(rs.chains).toHaveLength(1);
    expect(rs.chains[0]!.base).toEqual({ type: 'nat', hook: 'postrouting', priority: 110 });
    expect(rs.chains[0]!.rules.map((r) => r.text)).toEqual([
      'meta mark & 0x00004000 == 0x00004000 return',
      'ip saddr 10.244.0.0/16 ip daddr 10.244.0.0/16 return',
      'ip saddr 10.244.0.0/16 ip daddr 224.0.0.0/4 return',
      'ip saddr 10.244.0.0/16 masquerade fully-random',
    ]);
  });

  it('matches the CIDR with a mask in network byte order', () => {
    const masq = compileMasquerade('10.244.0.0/16').chains[0]!.rules[3]!;
    expect(masq.exprs).toEqual([
      { op: 'payload', base: 'network', offset: 12, len: 4, dreg: 8 },
      { op: 'bitwise', sreg: 8, dreg: 8, mask: [255, 255, 0, 0], xor: [0, 0, 0, 0] },
      { op: 'cmp', sreg: 8, cmp: 'eq', data: [10, 244, 0, 0] },
      { op: 'masq', flags: 16 },
    ]);
  });

  it('renders as nft text', () => {
    expect(renderNft(compileMasquerade('10.42.0.0/16'))).toContain('ip saddr 10.42.0.0/16 masquerade fully-random');
  });

  it('rejects a CIDR that is not IPv4 or has host bits', () => {
    expect(() => compileMasquerade('fd00::/64')).toThrow(/IPv4/);
    expect(() => compileMasquerade('10.244.1.0/8')).toThrow(/host bits/);
  });
});

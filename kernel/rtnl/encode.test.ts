import {
  bridgePortLinkInfo, bufToMac, errnoName, ipv4ToBuf, macToBuf, networkOf, parseAttrs, parseLinkInfo, parsePrefix,
  vethLinkInfo, vxlanLinkInfo,
} from './encode.js';

describe('rtnl encoding', () => {
  test('vxlanLinkInfo encodes kind, VNI, local, underlay, learning off and the port in network order', () => {
    const b = vxlanLinkInfo({ vni: 1, port: 8472, local: '192.168.7.1', underlayIndex: 5, learning: false });
    const top = parseAttrs(b);
    expect(top.get(1)!.toString()).toBe('vxlan\0');
    const data = parseAttrs(top.get(2)!);
    expect(data.get(1)!.readUInt32LE(0)).toBe(1);
    expect([...data.get(4)!]).toEqual([192, 168, 7, 1]);
    expect(data.get(3)!.readUInt32LE(0)).toBe(5);
    expect(data.get(7)![0]).toBe(0);
    expect([...data.get(15)!]).toEqual([0x21, 0x18]);
    // and it round-trips through the parser used on kernel dumps
    expect(parseLinkInfo(b)).toEqual({ kind: 'vxlan', vxlan: { vni: 1, port: 8472, local: '192.168.7.1', underlayIndex: 5, learning: false } });
  });

  test('vethLinkInfo nests an ifinfomsg and the peer name and namespace fd', () => {
    const top = parseAttrs(vethLinkInfo({ name: 'eth0', netnsFd: 9, mtu: 1450 }));
    const peer = parseAttrs(top.get(2)!).get(1)!;
    expect(peer.length).toBeGreaterThan(16);
    const attrs = parseAttrs(peer.subarray(16));
    expect(attrs.get(3)!.toString()).toBe('eth0\0');
    expect(attrs.get(28)!.readUInt32LE(0)).toBe(9);
    expect(attrs.get(4)!.readUInt32LE(0)).toBe(1450);
  });

  test('bridgePortLinkInfo sets hairpin through the bridge slave data', () => {
    expect(parseLinkInfo(bridgePortLinkInfo({ hairpin: true }))).toEqual({ slaveKind: 'bridge', bridgePort: { hairpin: true } });
    expect(parseLinkInfo(bridgePortLinkInfo({ hairpin: false, learning: false }))).toEqual({ slaveKind: 'bridge', bridgePort: { hairpin: false, learning: false } });
  });

  test('addresses, prefixes and MACs convert both ways and reject garbage', () => {
    expect([...ipv4ToBuf('10.0.255.1')]).toEqual([10, 0, 255, 1]);
    expect(() => ipv4ToBuf('10.0.256.1')).toThrow('invalid IPv4 address "10.0.256.1"');
    expect(parsePrefix('10.1.2.3/24')).toEqual({ addr: '10.1.2.3', prefix: 24 });
    expect(parsePrefix('10.1.2.3')).toEqual({ addr: '10.1.2.3', prefix: 32 });
    expect(() => parsePrefix('10.1.2.3/33')).toThrow('invalid IPv4 prefix');
    expect(() => parsePrefix('10.1.2.3/2x')).toThrow('invalid IPv4 prefix');
    expect(networkOf('10.244.3.77', 24)).toBe('10.244.3.0');
    expect(networkOf('10.244.3.77', 0)).toBe('0.0.0.0');
    expect(bufToMac(macToBuf('0A:00:00:00:00:FF'))).toBe('0a:00:00:00:00:ff');
    expect(() => macToBuf('0a:00')).toThrow('invalid MAC');
  });

  test('errnoName reads the package error text and node errno codes', () => {
    expect(errnoName(new Error('Request rejected: EEXIST'))).toBe('EEXIST');
    expect(errnoName(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe('ENOENT');
    expect(errnoName('weird')).toBe('EUNKNOWN');
  });
});

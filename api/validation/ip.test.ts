import { cidrContains, cidrSize, formatIP, parseCIDR, parseIP } from './ip.js';

describe('ip', () => {
  it('parses and formats IPv4', () => {
    expect(parseIP('10.0.0.1')).toEqual({ family: 4, value: 0x0a000001n });
    expect(parseIP('010.000.000.001')).toEqual({ family: 4, value: 0x0a000001n });
    expect(parseIP('256.0.0.1')).toBeUndefined();
    expect(parseIP('1.2.3')).toBeUndefined();
    expect(parseIP('')).toBeUndefined();
    expect(formatIP({ family: 4, value: 0xc0a80101n })).toBe('192.168.1.1');
  });

  it('parses and formats IPv6 with RFC 5952 compression', () => {
    expect(parseIP('::1')).toEqual({ family: 6, value: 1n });
    expect(parseIP('::')).toEqual({ family: 6, value: 0n });
    expect(parseIP('1:2:3:4:5:6:7:8')?.family).toBe(6);
    expect(parseIP('1::2::3')).toBeUndefined();
    expect(parseIP('1:2:3:4:5:6:7:8:9')).toBeUndefined();
    expect(parseIP('::ffff:10.0.0.1')).toEqual({ family: 6, value: 0xffff0a000001n });
    const ip = parseIP('2001:0db8:0000:0000:0001:0000:0000:0001')!;
    expect(formatIP(ip)).toBe('2001:db8::1:0:0:1');
    expect(formatIP(parseIP('fd00::10')!)).toBe('fd00::10');
    expect(formatIP(parseIP('1:0:2:0:3:0:4:0')!)).toBe('1:0:2:0:3:0:4:0');
  });

  it('parses CIDRs to their network and checks membership', () => {
    const c = parseCIDR('10.43.1.7/16')!;
    expect(c).toEqual({ family: 4, base: 0x0a2b0000n, prefix: 16 });
    expect(cidrSize(c)).toBe(65536n);
    expect(cidrContains(c, parseIP('10.43.255.255')!)).toBe(true);
    expect(cidrContains(c, parseIP('10.44.0.0')!)).toBe(false);
    expect(cidrContains(c, parseIP('::1')!)).toBe(false);
    expect(parseCIDR('10.0.0.0')).toBeUndefined();
    expect(parseCIDR('fd00::/129')).toBeUndefined();
    expect(parseCIDR('fd00::/64')?.prefix).toBe(64);
  });
});

import { cidrContains, cidrsOverlap, cidrSize, formatCidr, formatIP, nthIP, parseCidr, parseCidrSloppy, parseIP, parseIPSloppy } from './cidr.js';

describe('parseIP and formatIP', () => {
  it.each([
    ['10.43.0.1', '10.43.0.1'], ['0.0.0.0', '0.0.0.0'], ['255.255.255.255', '255.255.255.255'],
    ['::1', '::1'], ['::', '::'], ['fd00:0:0:0:0:0:0:1', 'fd00::1'], ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['FE80::A', 'fe80::a'], ['::ffff:10.0.0.1', '::ffff:a00:1'], ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
  ])('%s → %s', (input, want) => {
    expect(formatIP(parseIP(input)!)).toBe(want);
  });

  it.each(['', '1.2.3', '1.2.3.256', '01.2.3.4', 'a.b.c.d', ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', 'fe80::1%eth0', 'x::1', 'localhost'])(
    'rejects %j', input => {
      expect(parseIP(input)).toBeUndefined();
    });
});

describe('parseCidr', () => {
  it('reads IPv4 and IPv6 blocks', () => {
    const c = parseCidr('10.43.0.0/16');
    expect(formatCidr(c)).toBe('10.43.0.0/16');
    expect(cidrSize(c)).toBe(65536n);
    expect(formatIP(nthIP(c, 1))).toBe('10.43.0.1');
    expect(formatIP(nthIP(parseCidr('fd00:43::/112'), 1))).toBe('fd00:43::1');
  });

  it('rejects malformed blocks and host bits', () => {
    expect(() => parseCidr('10.43.0.0')).toThrow('invalid CIDR address: 10.43.0.0');
    expect(() => parseCidr('10.43.0.0/33')).toThrow('invalid CIDR address: 10.43.0.0/33');
    expect(() => parseCidr('10.43.0.0/x')).toThrow('invalid CIDR address');
    expect(() => parseCidr('10.43.1.0/16')).toThrow('10.43.1.0/16 has host bits set; did you mean 10.43.0.0/16?');
    expect(() => nthIP(parseCidr('10.0.0.0/30'), 4)).toThrow('has no address at index 4');
  });

  it('tests containment and overlap', () => {
    const a = parseCidr('10.42.0.0/16');
    expect(cidrContains(a, parseIP('10.42.255.255')!)).toBe(true);
    expect(cidrContains(a, parseIP('10.43.0.0')!)).toBe(false);
    expect(cidrContains(a, parseIP('::1')!)).toBe(false);
    expect(cidrsOverlap(a, parseCidr('10.0.0.0/8'))).toBe(true);
    expect(cidrsOverlap(a, parseCidr('10.43.0.0/16'))).toBe(false);
  });
});

describe('parseIPSloppy and parseCidrSloppy (the API dialect)', () => {
  it('parses and formats IPv4', () => {
    expect(parseIPSloppy('10.0.0.1')).toEqual({ family: 4, value: 0x0a000001n });
    expect(parseIPSloppy('010.000.000.001')).toEqual({ family: 4, value: 0x0a000001n });
    expect(parseIPSloppy('256.0.0.1')).toBeUndefined();
    expect(parseIPSloppy('1.2.3')).toBeUndefined();
    expect(parseIPSloppy('')).toBeUndefined();
    expect(formatIP({ family: 4, value: 0xc0a80101n })).toBe('192.168.1.1');
  });

  it('parses and formats IPv6 with RFC 5952 compression', () => {
    expect(parseIPSloppy('::1')).toEqual({ family: 6, value: 1n });
    expect(parseIPSloppy('::')).toEqual({ family: 6, value: 0n });
    expect(parseIPSloppy('1:2:3:4:5:6:7:8')?.family).toBe(6);
    expect(parseIPSloppy('1::2::3')).toBeUndefined();
    expect(parseIPSloppy('1:2:3:4:5:6:7:8:9')).toBeUndefined();
    expect(parseIPSloppy('::ffff:10.0.0.1')).toEqual({ family: 6, value: 0xffff0a000001n });
    const ip = parseIPSloppy('2001:0db8:0000:0000:0001:0000:0000:0001')!;
    expect(formatIP(ip)).toBe('2001:db8::1:0:0:1');
    expect(formatIP(parseIPSloppy('fd00::10')!)).toBe('fd00::10');
    expect(formatIP(parseIPSloppy('1:0:2:0:3:0:4:0')!)).toBe('1:0:2:0:3:0:4:0');
  });

  it('parses CIDRs to their network and checks membership', () => {
    const c = parseCidrSloppy('10.43.1.7/16')!;
    expect(c).toEqual({ family: 4, network: 0x0a2b0000n, prefix: 16 });
    expect(cidrSize(c)).toBe(65536n);
    expect(cidrContains(c, parseIPSloppy('10.43.255.255')!)).toBe(true);
    expect(cidrContains(c, parseIPSloppy('10.44.0.0')!)).toBe(false);
    expect(cidrContains(c, parseIPSloppy('::1')!)).toBe(false);
    expect(parseCidrSloppy('10.0.0.0')).toBeUndefined();
    expect(parseCidrSloppy('fd00::/129')).toBeUndefined();
    expect(parseCidrSloppy('fd00::/64')?.prefix).toBe(64);
  });
});

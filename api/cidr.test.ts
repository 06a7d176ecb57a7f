import { cidrContains, cidrsOverlap, cidrSize, formatCidr, formatIP, nthIP, parseCidr, parseIP } from './cidr.js';

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

import { parseNslookup, parsePingResolution } from './dns.js';

describe('parsePingResolution', () => {
  it('reads the address getaddrinfo gave busybox ping, whether or not the address answered', () => {
    const out = 'PING dns-partial.ns1 (10.43.93.9): 56 data bytes\n\n--- dns-partial.ns1 ping statistics ---\n1 packets transmitted, 0 packets received, 100% packet loss\n';
    expect(parsePingResolution(out)).toBe('10.43.93.9');
  });

  it('finds nothing when the name did not resolve', () => {
    expect(parsePingResolution("ping: bad address 'nosuch'\n")).toBeUndefined();
    expect(parsePingResolution('')).toBeUndefined();
  });
});

describe('parseNslookup on a search-list query', () => {
  it('keeps the one answer among the other search domains\' NXDOMAINs', () => {
    // busybox 1.35, `nslookup dnsp` with search default.svc.cluster.local svc.cluster.local cluster.local.
    const out = 'Server:\t\t10.43.0.10\nAddress:\t10.43.0.10:53\n\nName:\tdnsp.default.svc.cluster.local\nAddress: 10.43.93.9\n\n'
      + "** server can't find dnsp.svc.cluster.local: NXDOMAIN\n\n** server can't find dnsp.cluster.local: NXDOMAIN\n\n";
    expect(parseNslookup(out).addresses).toEqual(['10.43.93.9']);
  });
});

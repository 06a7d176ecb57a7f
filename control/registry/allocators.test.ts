import { allocateClusterIP, allocateNodePort, canonicalIP, checkClusterIP, checkNodePort, clusterIPAllocationError, ipInCIDR, kubernetesServiceIP } from './allocators.js';

describe('allocators', () => {
  it('the kubernetes service gets the first address', () => {
    expect(kubernetesServiceIP('10.43.0.0/16')).toBe('10.43.0.1');
    expect(kubernetesServiceIP('fd00:43::/112')).toBe('fd00:43::1');
  });

  it('allocateClusterIP never returns the network, .1 or broadcast address', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const ip = allocateClusterIP('10.0.0.0/29', new Set(), () => (i % 10) / 10)!;
      seen.add(ip);
    }
    expect([...seen].sort()).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
  });

  it('allocateClusterIP skips used addresses and reports a full range', () => {
    const used = new Set(['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5']);
    expect(allocateClusterIP('10.0.0.0/29', used, () => 0)).toBe('10.0.0.6');
    used.add('10.0.0.6');
    expect(allocateClusterIP('10.0.0.0/29', used, () => 0.5)).toBeUndefined();
    expect(allocateClusterIP('10.0.0.0/31', new Set(), () => 0)).toBeUndefined();
  });

  it('allocateClusterIP works for IPv6 ranges', () => {
    const ip = allocateClusterIP('fd00::/64', new Set(), () => 0)!;
    expect(ip).toBe('fd00::2');
    expect(ipInCIDR(ip, 'fd00::/64')).toBe(true);
  });

  it('allocateClusterIP throws on a bad CIDR', () => {
    expect(() => allocateClusterIP('nope', new Set())).toThrow('Invalid service CIDR "nope"');
  });

  it('checkClusterIP explains out-of-range and taken addresses', () => {
    expect(checkClusterIP('10.43.0.10', '10.43.0.0/16', new Set())).toBeUndefined();
    expect(checkClusterIP('10.43.0.1', '10.43.0.0/16', new Set())).toBeUndefined();
    expect(checkClusterIP('10.44.0.10', '10.43.0.0/16', new Set())).toBe('the provided IP (10.44.0.10) is not in the valid range. The range of valid IPs is 10.43.0.0/16');
    expect(checkClusterIP('10.43.0.0', '10.43.0.0/16', new Set())).toMatch(/not in the valid range/);
    expect(checkClusterIP('10.43.255.255', '10.43.0.0/16', new Set())).toMatch(/not in the valid range/);
    expect(checkClusterIP('10.43.0.10', '10.43.0.0/16', new Set(['10.43.0.10']))).toBe('provided IP is already allocated');
    expect(clusterIPAllocationError('10.43.0.10', '10.43.0.0/16', new Set(['10.43.0.10']))).toBe('failed to allocate IP 10.43.0.10: provided IP is already allocated');
  });

  it('canonicalIP normalises text forms', () => {
    expect(canonicalIP('010.0.0.1')).toBe('10.0.0.1');
    expect(canonicalIP('FD00:0::1')).toBe('fd00::1');
    expect(canonicalIP('x')).toBeUndefined();
  });

  it('allocateNodePort picks a free port in range', () => {
    const range = { min: 30000, max: 30002 };
    expect(allocateNodePort(range, new Set(), () => 0)).toBe(30000);
    expect(allocateNodePort(range, new Set([30002]), () => 0.99)).toBe(30000);
    expect(allocateNodePort(range, new Set([30000, 30001, 30002]), () => 0)).toBeUndefined();
  });

  it('checkNodePort explains out-of-range and taken ports', () => {
    const range = { min: 30000, max: 32767 };
    expect(checkNodePort(30080, range, new Set())).toBeUndefined();
    expect(checkNodePort(80, range, new Set())).toBe('provided port is not in the valid range. The range of valid ports is 30000-32767');
    expect(checkNodePort(30080, range, new Set([30080]))).toBe('provided port is already allocated');
  });
});

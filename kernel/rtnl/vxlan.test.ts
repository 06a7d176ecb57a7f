import { vxlanIncompatibility, type Link } from './index.js';

const have: Link = { index: 7, name: 'flannel.1', kind: 'vxlan', mtu: 1450, mac: '0a:00:00:00:00:01', up: true, vxlan: { vni: 1, port: 8472, local: '192.168.1.10', underlayIndex: 2, learning: false } };
const want = { name: 'flannel.1', vni: 1, port: 8472, local: '192.168.1.10', underlay: 'eth0' };

describe('vxlanIncompatibility', () => {
  test('keeps a device with the same VNI, port, local address, underlay and learning off', () => {
    expect(vxlanIncompatibility(want, have, 2)).toBeUndefined();
    expect(vxlanIncompatibility({ ...want, mtu: 1400, mac: '0a:00:00:00:00:09' }, have, 2)).toBeUndefined(); // set in place
  });

  test('names what forces a recreate', () => {
    expect(vxlanIncompatibility({ ...want, vni: 2 }, have, 2)).toBe('VNI 1 ≠ 2');
    expect(vxlanIncompatibility({ ...want, port: 4789 }, have, 2)).toBe('port 8472 ≠ 4789');
    expect(vxlanIncompatibility({ ...want, local: '192.168.1.11' }, have, 2)).toBe('local 192.168.1.10 ≠ 192.168.1.11');
    expect(vxlanIncompatibility(want, have, 3)).toBe('underlay ifindex 2 ≠ 3');
    expect(vxlanIncompatibility({ ...want, learning: true }, have, 2)).toBe('learning false ≠ true');
    expect(vxlanIncompatibility(want, { ...have, kind: 'bridge' }, 2)).toBe('is a bridge, not vxlan');
  });
});

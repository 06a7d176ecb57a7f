import type { RenderK8tsConflist } from '../agent/network.js';
import { parseConfig } from './config.js';
import { renderConflist } from './conflist.js';
import { launcherScript } from './install.js';

describe('renderConflist', () => {
  test('bridge mode (also for the agent\'s vxlan mode): k8ts-cni on cni0 with hairpin, MTU and the pod CIDR', () => {
    expect(renderConflist({ mode: 'vxlan', podCIDR: '10.244.1.0/24', mtu: 1450 })).toEqual({
      cniVersion: '1.0.0', cniVersions: ['1.0.0', '1.1.0'], name: 'k8ts',
      plugins: [{ type: 'k8ts-cni', mode: 'bridge', bridge: 'cni0', hairpinMode: true, mtu: 1450, ipam: { type: 'k8ts', podCIDR: '10.244.1.0/24' } }],
    });
  });

  test('routed mode with portmap chained stays at 1.0.0, which Debian\'s portmap speaks', () => {
    const c = renderConflist({ mode: 'routed', podCIDR: '10.244.2.0/24', portmap: true, ipamDataDir: '/var/lib/k8ts/cni' });
    expect(c.cniVersion).toBe('1.0.0');
    expect(c.cniVersions).toBeUndefined();
    expect(c.plugins).toEqual([
      { type: 'k8ts-cni', mode: 'routed', mtu: 1500, ipam: { type: 'k8ts', podCIDR: '10.244.2.0/24', dataDir: '/var/lib/k8ts/cni' } },
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    ]);
  });

  test('each plugin entry, as a runtime derives it, is a valid k8ts-cni configuration', () => {
    for (const mode of ['bridge', 'routed'] as const) {
      const c = renderConflist({ mode, podCIDR: '10.244.3.0/24' });
      const derived = { ...c.plugins[0], cniVersion: '1.1.0', name: c.name };
      expect(parseConfig(JSON.stringify(derived), 'ADD').mode).toBe(mode);
    }
  });

  test('fits the agent\'s renderer slot', () => {
    const slot: RenderK8tsConflist = renderConflist;
    expect(slot({ mode: 'routed', podCIDR: '10.244.4.0/24', clusterCIDR: '10.244.0.0/16', bridge: 'cni0', ipamDataDir: '/d', k8tsCni: true }).plugins[0]).toMatchObject({ mode: 'routed' });
  });

  test('the installed launcher execs an absolute node on an absolute entry point, quoted', () => {
    expect(launcherScript('/usr/bin/node', "/src/it's/dist/cni/main.js")).toBe(
      "#!/bin/sh\n# k8ts-cni, installed by k8ts (cni/install.ts)\nexec '/usr/bin/node' '/src/it'\\''s/dist/cni/main.js' \"$@\"\n");
  });
});

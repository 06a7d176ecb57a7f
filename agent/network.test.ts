import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Node } from 'kubernetes-types/core/v1.js';
import type { ClusterClient } from '../api/client/types.js';
import { silentLogger } from './kubelet.js';
import { k8tsConfFile, nodeConfList, parseNetworkMode, startNodeNetwork, writeNodeConfList, type ConfListInput } from './network.js';

const base: ConfListInput = { mode: 'bridge-local', podCIDR: '10.42.3.0/24', clusterCIDR: '10.42.0.0/16', bridge: 'k8ts0', ipamDataDir: '/d/ipam', k8tsCni: false };

describe('pod network configuration', () => {
  it('accepts the four modes only', () => {
    expect(parseNetworkMode('vxlan')).toBe('vxlan');
    expect(() => parseNetworkMode('host-gw')).toThrow(/bridge-local, vxlan, routed, none/);
  });

  it('uses the reference bridge plugin on the node podCIDR, with the overlay MTU in vxlan mode', () => {
    const c = nodeConfList({ ...base, mode: 'vxlan', mtu: 1450 });
    expect(c.plugins[0]).toMatchObject({ type: 'bridge', bridge: 'k8ts0', isGateway: true, hairpinMode: true, mtu: 1450, ipam: { type: 'host-local', ranges: [[{ subnet: '10.42.3.0/24' }]], dataDir: '/d/ipam' } });
  });

  it('uses the reference ptp plugin (no bridge) in routed mode', () => {
    const c = nodeConfList({ ...base, mode: 'routed' });
    expect(c.plugins[0]).toMatchObject({ type: 'ptp', ipam: { type: 'host-local', ranges: [[{ subnet: '10.42.3.0/24' }]] } });
  });

  it('prefers k8ts-cni when it is installed', () => {
    const c = nodeConfList({ ...base, k8tsCni: true }, i => ({ cniVersion: '1.0.0', name: 'k8ts', plugins: [{ type: 'k8ts-cni', podCIDR: i.podCIDR }] }));
    expect(c.plugins[0]).toEqual({ type: 'k8ts-cni', podCIDR: '10.42.3.0/24' });
  });

  it('writes its own file, rewrites it when the podCIDR changes, and leaves an operator configuration alone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8ts-cni-conf-'));
    try {
      const a = nodeConfList(base);
      expect(writeNodeConfList(dir, a)).toBe('written');
      expect(writeNodeConfList(dir, a)).toBe('unchanged');
      expect(writeNodeConfList(dir, nodeConfList({ ...base, podCIDR: '10.42.9.0/24' }))).toBe('written');
      expect(readFileSync(join(dir, k8tsConfFile), 'utf8')).toContain('10.42.9.0/24');
      expect(readdirSync(dir)).toEqual([k8tsConfFile]);
      writeFileSync(join(dir, '05-operator.conflist'), '{}');
      expect(writeNodeConfList(dir, a)).toBe('operator');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('waits for node IPAM, starts the netplugin, then writes the configuration with its MTU', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8ts-cni-conf-'));
    let gets = 0;
    const client = { get: async () => ({ spec: ++gets < 3 ? {} : { podCIDR: '10.42.5.0/24' } } as Node) } as unknown as ClusterClient;
    const started: unknown[] = [];
    let stopped = false;
    try {
      const net = await startNodeNetwork({
        mode: 'vxlan', client, nodeName: 'n', nodeIP: '172.30.1.12', log: silentLogger, confDir: dir, binDirs: [], bridge: 'k8ts0',
        clusterCIDR: '10.42.0.0/16', ipamDataDir: '/d/ipam',
        parts: { startNetplugin: async o => { started.push(o.podCIDR); return { mtu: 1400, stop: async () => { stopped = true; } }; } },
      });
      expect(gets).toBe(3);
      expect(started).toEqual(['10.42.5.0/24']);
      const conf = JSON.parse(readFileSync(join(dir, k8tsConfFile), 'utf8')) as { plugins: { mtu?: number }[] };
      expect(conf.plugins[0]!.mtu).toBe(1400);
      await net.stop();
      expect(stopped).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes nothing in mode none', async () => {
    const net = await startNodeNetwork({ mode: 'none', client: {} as ClusterClient, nodeName: 'n', nodeIP: '1.2.3.4', log: silentLogger, confDir: '/nonexistent', binDirs: [], bridge: 'b', clusterCIDR: '10.42.0.0/16', ipamDataDir: '/x' });
    expect(net.podCIDR).toBeUndefined();
  });
});

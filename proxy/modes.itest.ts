// Real traffic through every proxy mode, with the same cases: a client namespace connects to
// ClusterIPs and NodePorts that the node namespace DNATs to backend namespaces (kernel/testlab.ts).
// Each mode runs in its own lab: nftables over netlink, and upstream's iptables layout through
// iptables-nft-restore and iptables-legacy-restore.
import { jest } from '@jest/globals';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { Iptables } from '../kernel/iptables/restore.js';
import { execInNetns } from '../kernel/netns.js';
import { NfTablesSocket } from '../kernel/nftables/socket.js';
import { createLab, type Lab } from '../kernel/testlab.js';
import { endpoint, service, slice } from './fixtures.js';
import { IptablesApplier } from './iptables/apply.js';
import { compileIptables } from './iptables/compile.js';
import { buildServiceModel, type ServicePortModel } from './model.js';
import { NftablesApplier } from './nftables/apply.js';
import { compileServices } from './nftables/compile.js';

jest.setTimeout(60_000);

interface Ctx { readonly clusterCIDR?: string }
/** One mode under test: compile + apply a model into the lab's node namespace. */
interface Mode {
  sync(services: readonly ServicePortModel[], ctx?: Ctx, opts?: { resync?: boolean }): Promise<{ full: boolean }>;
  /** How the mode's affinity state for the client shows in the kernel (to watch it expire). */
  affinityState(): Promise<string>;
  close(): Promise<void>;
}

const NODE = 'node-1';
const state = (lab: Lab, services: readonly ServicePortModel[], ctx: Ctx = {}) => ({
  services, nodeName: NODE, nodeIPs: [lab.nodeClientIP], serviceCIDR: '10.96.0.0/12', ...ctx,
});

const modes: [string, (lab: Lab) => Mode][] = [
  ['nftables', (lab) => {
    const sock = NfTablesSocket.open(lab.node);
    const a = new NftablesApplier(sock);
    return {
      sync: (s, ctx, o) => a.sync(compileServices(state(lab, s, ctx)), { resync: o?.resync === true }),
      // One set of clients per endpoint index (affinity-K); the test's service has 3 endpoints.
      affinityState: () => execInNetns(lab.node, 'sh', ['-c', 'for k in 0 1 2; do nft list set ip k8ts-proxy affinity-$k; done']),
      close: async () => { await a.cleanup('k8ts-proxy'); sock.close(); },
    };
  }],
  ...(['nft', 'legacy'] as const).map((backend): [string, (lab: Lab) => Mode] => [`iptables (${backend})`, (lab) => {
    const a = new IptablesApplier(new Iptables({ backend, netns: lab.node }));
    return {
      sync: (s, ctx, o) => a.sync(compileIptables(state(lab, s, ctx)), { full: o?.resync === true }),
      affinityState: async () => (await execInNetns(lab.node, 'sh', ['-c', 'cat /proc/net/xt_recent/KUBE-SEP-* 2>/dev/null || true'])),
      close: () => a.cleanup(),
    };
  }]),
];

const count = (xs: string[]): Record<string, number> => xs.reduce<Record<string, number>>((m, x) => ({ ...m, [x]: (m[x] ?? 0) + 1 }), {});
const withPort = (s: EndpointSlice, port: number): EndpointSlice => ({ ...s, ports: [{ name: 'http', port, protocol: 'TCP' }] });

describe.each(modes)('%s mode', (_name, open) => {
  let lab: Lab;
  let mode: Mode;
  beforeAll(async () => {
    lab = await createLab(3);
    await lab.startServers(8080);
    mode = open(lab);
  }, 60_000);
  afterAll(async () => {
    await mode?.close().catch(() => undefined);
    await lab?.destroy();
  });

  const web = service('web', '10.96.0.10', { type: 'NodePort', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }] });
  const emptySvc = service('empty', '10.96.0.11');
  const model = (n: number, extra: { services?: Service[]; slices?: EndpointSlice[] } = {}): ServicePortModel[] =>
    buildServiceModel([web, emptySvc, ...(extra.services ?? [])], [slice('web', [1, 2, 3].slice(0, n).map((i) => endpoint(lab.backendIP(i)))), ...(extra.slices ?? [])]);

  test('connections to a ClusterIP are balanced over all ready endpoints', async () => {
    expect((await mode.sync(model(3))).full).toBe(true);
    const answers = count(await lab.connectMany('10.96.0.10', 80, 90));
    expect(Object.keys(answers).sort()).toEqual([...lab.backends].sort());
    for (const b of lab.backends) expect(answers[b]).toBeGreaterThan(10);
  });

  test('a NodePort on the node address reaches the endpoints', async () => {
    const answers = count(await lab.connectMany(lab.nodeClientIP, 30080, 30));
    expect(Object.keys(answers).length).toBeGreaterThan(1);
    expect(Object.keys(answers).every((a) => lab.backends.includes(a))).toBe(true);
  });

  test('a service without endpoints refuses connections instead of hanging', async () => {
    const t0 = Date.now();
    expect(await lab.connectMany('10.96.0.11', 80, 5, 3000)).toEqual(Array(5).fill('ERR:ECONNREFUSED'));
    expect(Date.now() - t0).toBeLessThan(2500);
  });

  test('an incremental sync removing an endpoint stops traffic to it, and one adding it back restores it', async () => {
    expect((await mode.sync(model(2))).full).toBe(false);
    expect(Object.keys(count(await lab.connectMany('10.96.0.10', 80, 60))).sort()).toEqual([lab.backends[0], lab.backends[1]].sort());
    await mode.sync(model(3));
    expect(Object.keys(count(await lab.connectMany('10.96.0.10', 80, 60))).sort()).toEqual([...lab.backends].sort());
  });

  test('an incremental sync giving the empty service an endpoint, and taking it away again, switches between serving and refusing', async () => {
    const withEp = { slices: [slice('empty', [endpoint(lab.backendIP(2))])] };
    await mode.sync(model(3, withEp));
    expect(await lab.connectMany('10.96.0.11', 80, 3)).toEqual(Array(3).fill(lab.backends[1]));
    await mode.sync(model(3));
    expect(await lab.connectMany('10.96.0.11', 80, 2, 2000)).toEqual(Array(2).fill('ERR:ECONNREFUSED'));
  });

  test('ClusterIP traffic from outside the cluster CIDR is masqueraded, from inside it keeps its source', async () => {
    const whoami = { services: [service('whoami', '10.96.0.14')], slices: [withPort(slice('whoami', [endpoint(lab.backendIP(1))]), 8081)] };
    await mode.sync(model(3, whoami));
    expect(await lab.connectMany('10.96.0.14', 80, 1)).toEqual([lab.clientIP]);
    await mode.sync(model(3, whoami), { clusterCIDR: '10.128.0.0/9' });
    expect(await lab.connectMany('10.96.0.14', 80, 1)).toEqual(['10.128.1.1']); // the node's address towards backend 1
    expect(await lab.connectMany('10.96.0.14', 80, 1, 2000, lab.backends[1])).toEqual([lab.backendIP(2)]); // a pod keeps its source
  });

  test('a pod reaches itself through its own service (hairpin)', async () => {
    const self = { services: [service('self', '10.96.0.12')], slices: [slice('self', [endpoint(lab.backendIP(1))])] };
    await mode.sync(model(3, self), { clusterCIDR: '10.128.0.0/9' });
    expect(await lab.connectMany('10.96.0.12', 80, 5, 2000, lab.backends[0])).toEqual(Array(5).fill(lab.backends[0]));
  });

  test('a ClientIP-affinity client sticks to one endpoint, across a full resync, until the timeout', async () => {
    const sticky = service('sticky', '10.96.0.20', { type: 'NodePort', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30090 }], sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 2 } } });
    const eps = { services: [sticky], slices: [slice('sticky', [1, 2, 3].map((i) => endpoint(lab.backendIP(i))))] };
    await mode.sync(model(3, eps));
    const answers = await lab.connectMany('10.96.0.20', 80, 30);
    expect(new Set(answers).size).toBe(1);
    expect(lab.backends).toContain(answers[0]);
    expect(await mode.affinityState()).toContain(lab.clientIP);
    // Another client (a pod in backend 2's namespace) sticks too, to its own choice.
    expect(new Set(await lab.connectMany('10.96.0.20', 80, 10, 2000, lab.backends[1])).size).toBe(1);
    expect(new Set(await lab.connectMany(lab.nodeClientIP, 30090, 10)).size).toBe(1);
    // A periodic resync rewrites every rule and keeps the affinity state.
    expect((await mode.sync(model(3, eps), {}, { resync: true })).full).toBe(true);
    expect(await lab.connectMany('10.96.0.20', 80, 10)).toEqual(Array(10).fill(answers[0]));
    // After the timeout a new choice is made (1 in 3 it is the same one): within a few rounds,
    // another endpoint shows up.
    const seen = new Set<string>([answers[0]!]);
    for (let i = 0; i < 6 && seen.size < 2; i++) {
      await new Promise((r) => setTimeout(r, 2300));
      for (const a of await lab.connectMany('10.96.0.20', 80, 1)) seen.add(a);
    }
    expect(seen.size).toBe(2);
  }, 60_000);
});

// The applier's ordering and failure handling, against a kernel that records the calls it gets.
import { PartialSyncError, type NetKernel } from '../common/kernel.js';
import type { ObservedRoute } from '../common/plan-routes.js';
import { VxlanApplier } from './apply.js';
import { desiredVxlan, vtepMacFor, vxlanAnnotations, type FdbSpec, type NeighSpec, type ObservedVxlanDevice } from './plan.js';

class RecordingKernel implements NetKernel {
  readonly calls: string[] = [];
  device: ObservedVxlanDevice | undefined;
  neighbours: NeighSpec[] = [];
  fdb: FdbSpec[] = [];
  routes: ObservedRoute[] = [];
  failRoute: string | undefined;
  private rec(s: string): Promise<void> { this.calls.push(s); return Promise.resolve(); }
  linkInfo = () => Promise.resolve({ mtu: 1500 });
  linkWithAddress = () => Promise.resolve('eth0');
  getVxlan = () => Promise.resolve(this.device);
  createVxlan = () => this.rec('create');
  setLink = (_: string, c: object) => this.rec(`set ${JSON.stringify(c)}`);
  deleteLink = () => this.rec('delete link');
  listAddresses = () => Promise.resolve([]);
  addAddress = (_: string, a: string) => this.rec(`addr ${a}`);
  delAddress = (_: string, a: string) => this.rec(`del addr ${a}`);
  listNeighbours = () => Promise.resolve(this.neighbours);
  setNeighbour = (_: string, n: NeighSpec) => this.rec(`neigh ${n.ip}`);
  delNeighbour = (_: string, n: NeighSpec) => this.rec(`del neigh ${n.ip}`);
  listFdb = () => Promise.resolve(this.fdb);
  addFdb = (_: string, f: FdbSpec) => this.rec(`fdb ${f.dst}`);
  delFdb = (_: string, f: FdbSpec) => this.rec(`del fdb ${f.dst}`);
  listRoutes = () => Promise.resolve(this.routes);
  setRoute = (r: { dst: string }) => {
    if (r.dst === this.failRoute) return Promise.reject(new Error('ENETUNREACH'));
    return this.rec(`route ${r.dst}`);
  };
  delRoute = (r: { dst: string }) => this.rec(`del route ${r.dst}`);
  setSysctl = (p: string, v: string) => this.rec(`sysctl ${p}=${v}`);
  disableTxChecksumOffload = () => this.rec('offload off');
  close(): void {}
}

const node = (i: number) => ({
  metadata: { name: `n${i}`, annotations: vxlanAnnotations(vtepMacFor(`n${i}`), `192.168.1.${i}`) },
  spec: { podCIDR: `10.244.${i}.0/24` },
});
const self = { nodeName: 'n1', nodeIP: '192.168.1.1', podCidr: '10.244.1.0/24', underlay: 'eth0', underlayMtu: 1500 };

describe('VxlanApplier', () => {
  it('creates the device, turns offload off, then adds neighbour, FDB entry and route per peer in that order', async () => {
    const k = new RecordingKernel();
    await new VxlanApplier(k, 107).sync(desiredVxlan(self, [node(1), node(2)]));
    expect(k.calls).toEqual([
      'sysctl net/ipv4/ip_forward=1', 'create', 'set {"up":true}', 'offload off', 'addr 10.244.1.0/32',
      'neigh 10.244.2.0', 'fdb 192.168.1.2', 'route 10.244.2.0/24',
    ]);
  });

  it('deletes a departed peer\'s route before its FDB entry and neighbour', async () => {
    const k = new RecordingKernel();
    const a = new VxlanApplier(k, 107);
    await a.sync(desiredVxlan(self, [node(2)]));
    const want = desiredVxlan(self, [node(2)]);
    k.device = { ...want.device, kind: 'vxlan', up: true };
    k.neighbours = [...want.neighbours];
    k.fdb = [...want.fdb];
    k.routes = want.routes.map((r) => ({ ...r, protocol: 107, table: 254 }));
    k.calls.length = 0;
    await a.sync(desiredVxlan(self, []));
    expect(k.calls).toEqual(['addr 10.244.1.0/32', 'del route 10.244.2.0/24', 'del fdb 192.168.1.2', 'del neigh 10.244.2.0']);
  });

  it('keeps going past a refused route and reports it with the plan carried out', async () => {
    const k = new RecordingKernel();
    k.failRoute = '10.244.2.0/24';
    const err = await new VxlanApplier(k, 107).sync(desiredVxlan(self, [node(2), node(3)])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartialSyncError);
    expect((err as PartialSyncError<unknown>).failures).toEqual(['add route 10.244.2.0/24 via 10.244.2.0 dev k8ts.1 onlink: ENETUNREACH']);
    expect(k.calls).toContain('route 10.244.3.0/24');
  });

  it('leaves offload alone on a kernel that does not need the workaround', async () => {
    const k = new RecordingKernel();
    let turnedOff = 0;
    k.disableTxChecksumOffload = () => { turnedOff++; return Promise.resolve(); };
    await new VxlanApplier(k, 107, () => {}, false).sync(desiredVxlan(self, []));
    expect(turnedOff).toBe(0);
    await new VxlanApplier(k, 107, () => {}, true).sync(desiredVxlan(self, []));
    expect(turnedOff).toBe(1);
  });

  it('does not fail the sync when offload cannot be turned off, but says so once', async () => {
    const k = new RecordingKernel();
    k.disableTxChecksumOffload = () => Promise.reject(new Error('ethtool: not found'));
    const warnings: string[] = [];
    const a = new VxlanApplier(k, 107, (m) => warnings.push(m));
    await a.sync(desiredVxlan(self, []));
    k.device = { ...desiredVxlan(self, []).device, kind: 'vxlan', up: true };
    await a.sync(desiredVxlan(self, []));
    expect(warnings).toEqual([expect.stringContaining('could not turn off TX checksum offload on k8ts.1')]);
  });
});

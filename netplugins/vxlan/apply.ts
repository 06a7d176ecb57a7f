// Executes VXLAN plans (./plan.ts) against the kernel: observe, plan, apply, in that order, on
// every sync — level-triggered, so a device, route, neighbour or FDB entry deleted behind our back
// is back after the next sync.
//
// Design notes. Entries are added neighbour → FDB → route and deleted route → FDB → neighbour, so
// the kernel never holds a route whose next hop it cannot resolve. Flannel rolls back the earlier
// entries of a peer when a later one fails, because it only acts on events; we keep going with the
// other peers, report every failure in one error, and the runner's retry re-plans from what the
// kernel then holds, which already contains whatever did succeed. On kernels before 5.7 TX checksum
// offload is turned off on every device we create (and once per process on an existing one): with
// it on, those kernels leave the inner checksum to hardware that a VXLAN device does not have when
// the packet was NATed twice, and connections stall for 63 s (kubernetes#88986, flannel#1279);
// `disableTxChecksum` (vxlanNeedsChecksumWorkaround in ./plan.ts) says whether to.
import { PartialSyncError, type NetKernel } from '../common/kernel.js';
import { routeText } from '../common/plan-routes.js';
import { planVxlan, type VxlanDesired, type VxlanPlan } from './plan.js';

export class VxlanApplier {
  private offloadDone = false;
  private forwardingDone = false;

  /** `warn` hears about failures that do not stop the overlay (ethtool missing). */
  constructor(private readonly kernel: NetKernel, private readonly protocol: number, private readonly warn: (msg: string) => void = () => {},
    private readonly disableTxChecksum = true) {}

  /**
   * One sync; resolves with the plan it carried out. A device failure rejects at once; failed
   * per-peer steps reject with PartialSyncError after every other step was tried.
   */
  async sync(want: VxlanDesired): Promise<VxlanPlan> {
    const k = this.kernel;
    const name = want.device.name;
    const device = await k.getVxlan(name);
    const addresses = device ? (await k.listAddresses(name)).filter((a) => !a.includes(':')) : [];
    const neighbours = device ? await k.listNeighbours(name) : [];
    const fdb = device ? await k.listFdb(name) : [];
    const routes = await k.listRoutes();
    const plan = planVxlan(want, { ...(device ? { device } : {}), addresses, neighbours, fdb, routes }, this.protocol);
    const errors: string[] = [];
    const step = async (what: string, fn: () => Promise<void>): Promise<void> => {
      try { await fn(); } catch (err) { errors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`); }
    };

    if (!this.forwardingDone) {
      await k.setSysctl('net/ipv4/ip_forward', '1');
      this.forwardingDone = true;
    }
    const d = plan.device;
    if (d.action === 'recreate') await k.deleteLink(name);
    if (d.action === 'create' || d.action === 'recreate') {
      await k.createVxlan(want.device);
      await k.setLink(name, { up: true });
      this.offloadDone = false;
    } else if (d.action === 'update') {
      await k.setLink(name, { ...(d.mtu !== undefined ? { mtu: d.mtu } : {}), ...(d.mac !== undefined ? { mac: d.mac } : {}), ...(d.up ? { up: true } : {}) });
    }
    if (!this.offloadDone && this.disableTxChecksum) {
      // Not fatal: the overlay works without it, only double-NATed traffic risks the stall.
      try { await k.disableTxChecksumOffload(name); } catch (err) { this.warn(`could not turn off TX checksum offload on ${name}: ${String(err)}`); }
      this.offloadDone = true;
    }
    for (const a of plan.addresses.del) await step(`delete address ${a}`, () => k.delAddress(name, a));
    for (const a of plan.addresses.add) await step(`add address ${a}`, () => k.addAddress(name, a));
    for (const r of plan.routes.del) await step(`delete route ${routeText(r)}`, () => k.delRoute(r, this.protocol));
    for (const f of plan.fdb.del) await step(`delete fdb ${f.mac} dst ${f.dst}`, () => k.delFdb(name, f));
    for (const n of plan.neighbours.del) await step(`delete neighbour ${n.ip}`, () => k.delNeighbour(name, n));
    for (const n of plan.neighbours.add) await step(`add neighbour ${n.ip} lladdr ${n.mac}`, () => k.setNeighbour(name, n));
    for (const f of plan.fdb.add) await step(`add fdb ${f.mac} dst ${f.dst}`, () => k.addFdb(name, f));
    for (const r of plan.routes.add) await step(`add route ${routeText(r)}`, () => k.setRoute(r, this.protocol));
    if (errors.length) throw new PartialSyncError(plan, errors, 'vxlan sync');
    return plan;
  }

  /** Removes the device (its neighbours, FDB entries and routes go with it). */
  async cleanup(name: string): Promise<void> {
    if (await this.kernel.getVxlan(name)) await this.kernel.deleteLink(name);
  }
}

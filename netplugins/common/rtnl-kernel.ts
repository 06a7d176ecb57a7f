// The real `NetKernel`: kernel/rtnl (one rtnetlink socket bound to the node's namespace) for links,
// addresses, neighbours, FDB, routes and sysctls, and `ethtool` through the Exec seam for the one
// thing rtnetlink cannot do (feature flags live in the ethtool API).
import { systemExec, type Exec } from '../../kernel/exec.js';
import { openRtnl, RTPROT_K8TS, type Rtnl } from '../../kernel/rtnl/index.js';
import type { NetKernel } from './kernel.js';
import type { ObservedRoute } from './plan-routes.js';

/** The route protocol number on every route k8ts installs (kernel/rtnl's RTPROT_K8TS). */
export const K8TS_ROUTE_PROTOCOL = RTPROT_K8TS;

export function rtnlKernel(netns?: string, exec: Exec = systemExec): NetKernel {
  let sock: Rtnl | undefined;
  const r = (): Rtnl => (sock ??= openRtnl(netns));
  // One request at a time on the socket: concurrent dumps on one rtnetlink socket interleave.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = (fn: (...a: unknown[]) => unknown) => (...a: unknown[]): Promise<unknown> => {
    const p = queue.then(() => fn(...a));
    queue = p.catch(() => undefined);
    return p;
  };
  const linkName = async (index: number | undefined): Promise<string | undefined> =>
    index === undefined ? undefined : (await r().listLinks()).find((l) => l.index === index)?.name;

  const impl: NetKernel = {
    async linkInfo(name) {
      const l = await r().getLink(name);
      if (!l) return undefined;
      const addr = (await r().listAddrs(name))[0];
      return { mtu: l.mtu, ...(addr ? { ipv4: addr.address } : {}) };
    },
    async linkWithAddress(ip) {
      return (await r().listAddrs()).find((a) => a.address === ip)?.dev;
    },
    async getVxlan(name) {
      const l = await r().getLink(name);
      if (!l) return undefined;
      const v = l.vxlan ?? {};
      const underlay = await linkName(v.underlayIndex);
      return {
        name: l.name, kind: l.kind ?? '', mtu: l.mtu, mac: l.mac, up: l.up,
        ...(v.vni !== undefined ? { vni: v.vni } : {}),
        ...(v.port !== undefined ? { port: v.port } : {}),
        ...(v.local !== undefined ? { local: v.local } : {}),
        ...(l.kind === 'vxlan' ? { learning: v.learning ?? false, underlay: underlay ?? '' } : {}),
      };
    },
    async createVxlan(s) {
      await r().addVxlan({ name: s.name, vni: s.vni, port: s.port, local: s.local, underlay: s.underlay, learning: s.learning, mac: s.mac, mtu: s.mtu });
    },
    async setLink(name, c) {
      if (c.mtu !== undefined) await r().setMtu(name, c.mtu);
      if (c.mac !== undefined) await r().setMac(name, c.mac);
      if (c.up) await r().setUp(name);
    },
    async deleteLink(name) { await r().ensureLinkAbsent(name); },
    async listAddresses(dev) { return (await r().listAddrs(dev)).map((a) => `${a.address}/${a.prefix}`); },
    async addAddress(dev, cidr) { await r().ensureAddr(dev, cidr); },
    async delAddress(dev, cidr) { await r().ensureAddrAbsent(dev, cidr); },
    async listNeighbours(dev) {
      return (await r().listNeighs(dev)).filter((n) => n.permanent && n.mac).map((n) => ({ ip: n.ip, mac: n.mac }));
    },
    async setNeighbour(dev, n) { await r().replaceNeigh({ dev, ip: n.ip, mac: n.mac }); },
    async delNeighbour(dev, n) { await r().ensureNeighAbsent({ dev, ip: n.ip }); },
    async listFdb(dev) {
      return (await r().listFdb(dev)).flatMap((e) => (e.dst !== undefined ? [{ mac: e.mac, dst: e.dst }] : []));
    },
    // As flannel (NeighSet): one destination per VTEP MAC, replaced in place; O(1), no dump first.
    async addFdb(dev, f) { await r().replaceFdb({ dev, mac: f.mac, dst: f.dst }); },
    async delFdb(dev, f) { await r().ensureFdbAbsent({ dev, mac: f.mac, dst: f.dst }); },
    async listRoutes() {
      const out: ObservedRoute[] = [];
      for (const rt of await r().listRoutes()) {
        if (rt.type !== 'unicast' && rt.type !== 'blackhole') continue;
        out.push({
          dst: rt.dst === 'default' ? '0.0.0.0/0' : rt.dst, type: rt.type, protocol: rt.protocol ?? 0, table: rt.table ?? 254,
          ...(rt.via !== undefined ? { gateway: rt.via } : {}),
          ...(rt.dev !== undefined && rt.type !== 'blackhole' ? { dev: rt.dev } : {}),
          ...(rt.onlink ? { onlink: true } : {}),
        });
      }
      return out;
    },
    async setRoute(rt, protocol) {
      await r().replaceRoute({
        dst: rt.dst, type: rt.type, protocol,
        ...(rt.gateway !== undefined ? { via: rt.gateway } : {}),
        ...(rt.dev !== undefined ? { dev: rt.dev } : {}),
        ...(rt.onlink ? { onlink: true } : {}),
      });
    },
    async delRoute(rt, protocol) {
      await r().ensureRouteAbsent({
        dst: rt.dst, type: rt.type, protocol,
        ...(rt.gateway !== undefined ? { via: rt.gateway } : {}),
      });
    },
    async setSysctl(path, value) { r().writeSysctl(path, value); },
    async disableTxChecksumOffload(dev) {
      const args = ['-K', dev, 'tx-checksum-ip-generic', 'off'];
      const res = netns === undefined ? await exec.run('ethtool', args)
        : netns.includes('/') ? await exec.run('nsenter', [`--net=${netns}`, 'ethtool', ...args])
          : await exec.run('ip', ['netns', 'exec', netns, 'ethtool', ...args]);
      if (res.exitCode !== 0) throw new Error(`ethtool ${args.join(' ')}${netns ? ` (netns ${netns})` : ''} failed (exit ${res.exitCode}): ${res.stderr.trim() || res.stdout.trim()}`);
    },
    close() {
      sock?.close();
      sock = undefined;
    },
  };
  const wrapped = Object.fromEntries(Object.entries(impl).map(([name, fn]) =>
    [name, name === 'close' ? fn : serial(fn as (...a: unknown[]) => unknown)]));
  return wrapped as unknown as NetKernel;
}

// The kernel side of k8ts-cni: ADD, DEL, CHECK, GC and STATUS for one attachment, in either mode,
// through kernel/rtnl only. The plugin runs in the node's network namespace (the runtime's), so the
// host-side objects go into the current namespace and the pod's into CNI_NETNS.
//
//   bridge  cni0 (gateway = first podCIDR address) ── k8ts<hash> (hairpin) ══ eth0 ip/len, default via gateway
//   routed  k8ts<hash> (ee:ee:ee:ee:ee:ee, proxy_arp, /32 route proto 107) ══ eth0 ip/32,
//           169.254.1.1 dev eth0 scope link, default via 169.254.1.1
//
// In routed mode the pod also gets a permanent neighbour entry 169.254.1.1 → ee:ee:ee:ee:ee:ee.
// Calico relies on proxy ARP alone, which answers only when the node routes 169.254.1.1 out of some
// other interface (its default route); a node without one — a lab namespace — would leave pods
// unable to reach anything. The static entry removes that dependency; proxy ARP stays on for
// anything else a pod may ARP for.
//
// Ordering: ADD allocates the address first and undoes everything it did when a later step fails;
// DEL removes the links first and releases the address last, so an address is never handed out
// again while an interface still carries it.
import { existsSync } from 'node:fs';
import { openRtnl, RtnlError, RTPROT_K8TS, type Rtnl } from '../kernel/rtnl/index.js';
import { CniError, ErrCode, prefixLen, type CniResult, type NetConf, type Request } from './config.js';
import { ipamFor } from './ipam.js';
import { bridgeMac, buildResult, expectedFromPrev, hostVethName, planCheck, ROUTED_GATEWAY, ROUTED_HOST_MAC, type Observed } from './result.js';

/**
 * Where the host side lives: the plugin's own namespace (the node's) unless `hostNetns` says
 * otherwise — tests run the commands in-process with a test namespace as the "node".
 */
export interface AttachOptions { hostNetns?: string }

function kernel(e: unknown): unknown {
  if (e instanceof RtnlError) return new CniError(ErrCode.Kernel, e.message, `errno ${e.errno}`);
  return e;
}

function openPod(netns: string): Rtnl {
  if (!existsSync(netns)) throw new CniError(ErrCode.UnknownContainer, `network namespace ${netns} does not exist`);
  try { return openRtnl(netns); } catch (e) {
    throw new CniError(ErrCode.UnknownContainer, `cannot enter network namespace ${netns}`, e instanceof Error ? e.message : String(e));
  }
}

export async function cmdAdd(req: Request, conf: NetConf, opts: AttachOptions = {}): Promise<CniResult> {
  const pod = openPod(req.netns);
  const host = openRtnl(opts.hostNetns);
  const ipam = ipamFor(conf);
  const hostName = hostVethName(req.containerID, req.ifname);
  let ip: string | undefined;
  try {
    if (await pod.getLink(req.ifname)) {
      throw new CniError(ErrCode.InterfaceExists, `interface "${req.ifname}" already exists in ${req.netns}`);
    }
    ip = ipam.allocate(req.containerID, req.ifname);
    const routed = conf.mode === 'routed';
    const { gateway, subnet } = conf.ipam.range;
    let bridge: { name: string; mac: string } | undefined;
    if (!routed) {
      const br = await host.ensureBridge({ name: conf.bridge, mtu: conf.mtu, mac: bridgeMac(conf.name, conf.bridge) });
      await host.ensureAddr(conf.bridge, `${gateway}/${prefixLen(subnet)}`);
      bridge = { name: br.name, mac: br.mac };
    }
    if (host.readSysctl('net/ipv4/ip_forward') !== '1') host.writeSysctl('net/ipv4/ip_forward', '1');
    // A host veth left over by a failed ADD of the same attachment would make the create fail.
    await host.ensureLinkAbsent(hostName);
    await host.addVeth({ name: hostName, peerName: req.ifname, peerNetns: req.netns, mtu: conf.mtu, ...(routed ? { mac: ROUTED_HOST_MAC } : {}) });
    if (routed) {
      host.writeSysctl(`net/ipv4/conf/${hostName}/proxy_arp`, '1');
      host.writeSysctl(`net/ipv4/neigh/${hostName}/proxy_delay`, '0');
      host.writeSysctl(`net/ipv4/conf/${hostName}/forwarding`, '1');
      await host.setUp(hostName);
      await host.replaceRoute({ dst: `${ip}/32`, dev: hostName, scope: 'link', protocol: RTPROT_K8TS });
    } else {
      await host.setMaster(hostName, conf.bridge);
      if (conf.hairpinMode) await host.setBridgePort(hostName, { hairpin: true });
      await host.setUp(hostName);
    }
    await pod.setUp('lo');
    await pod.addAddr(req.ifname, `${ip}/${routed ? 32 : prefixLen(subnet)}`);
    await pod.setUp(req.ifname);
    if (routed) {
      await pod.replaceRoute({ dst: `${ROUTED_GATEWAY}/32`, dev: req.ifname, scope: 'link' });
      await pod.replaceNeigh({ dev: req.ifname, ip: ROUTED_GATEWAY, mac: ROUTED_HOST_MAC });
      await pod.replaceRoute({ dst: 'default', via: ROUTED_GATEWAY, dev: req.ifname });
    } else {
      await pod.replaceRoute({ dst: 'default', via: gateway, dev: req.ifname });
    }
    const hv = await host.requireLink(hostName);
    const pv = await pod.requireLink(req.ifname);
    return buildResult(conf, {
      hostVeth: { name: hostName, mac: hv.mac },
      pod: { name: req.ifname, mac: pv.mac, mtu: pv.mtu, sandbox: req.netns },
      ...(bridge ? { bridge } : {}),
      ip,
    });
  } catch (e) {
    if (ip !== undefined) {
      await host.ensureLinkAbsent(hostName).catch(() => undefined);
      ipam.release(req.containerID, req.ifname);
    }
    throw kernel(e);
  } finally {
    pod.close();
    host.close();
  }
}

/** DEL: best effort and idempotent; succeeds when the namespace or the links are already gone. */
export async function cmdDel(req: Request, conf: NetConf, opts: AttachOptions = {}): Promise<void> {
  const ipam = ipamFor(conf);
  const host = openRtnl(opts.hostNetns);
  const hostName = hostVethName(req.containerID, req.ifname);
  try {
    await host.ensureLinkAbsent(hostName);
    if (req.netns !== '' && existsSync(req.netns)) {
      let pod: Rtnl | undefined;
      try { pod = openRtnl(req.netns); } catch { pod = undefined; }
      if (pod) {
        try { await pod.ensureLinkAbsent(req.ifname); } finally { pod.close(); }
      }
    }
    const ip = ipam.find(req.containerID, req.ifname);
    if (ip && conf.mode === 'routed') await host.ensureRouteAbsent({ dst: `${ip}/32`, protocol: RTPROT_K8TS });
    ipam.release(req.containerID, req.ifname);
  } catch (e) {
    throw kernel(e);
  } finally {
    host.close();
  }
}

export async function cmdCheck(req: Request, conf: NetConf, opts: AttachOptions = {}): Promise<void> {
  const exp = expectedFromPrev(conf.prevResult!, req.ifname, req.netns);
  if (!exp) throw new CniError(ErrCode.CheckFailed, `prevResult has no interface "${req.ifname}" in ${req.netns} with an IPv4 address`);
  const pod = openPod(req.netns);
  const host = openRtnl(opts.hostNetns);
  try {
    const hostName = exp.hostVeth?.name ?? hostVethName(req.containerID, req.ifname);
    const obs: Observed = { podAddrs: [] };
    const pl = await pod.getLink(req.ifname);
    if (pl) {
      obs.podIf = { mac: pl.mac, up: pl.up, mtu: pl.mtu };
      obs.podAddrs = (await pod.listAddrs(req.ifname)).map((a) => `${a.address}/${a.prefix}`);
      const via = (await pod.listRoutes()).find((r) => r.dst === 'default' && r.dev === req.ifname)?.via;
      if (via !== undefined) obs.podDefaultVia = via;
    }
    const hl = await host.getLink(hostName);
    if (hl) {
      const links = hl.master !== undefined ? await host.listLinks() : [];
      obs.hostVeth = { mac: hl.mac, up: hl.up, hairpin: hl.bridgePort?.hairpin ?? false };
      const master = links.find((l) => l.index === hl.master)?.name;
      if (master !== undefined) obs.hostVeth.master = master;
      const ip = exp.address.split('/')[0];
      obs.hostRouteToPod = (await host.listRoutes({ dev: hostName })).some((r) => r.dst === `${ip}/32`);
    }
    const allocated = ipamFor(conf).find(req.containerID, req.ifname);
    if (allocated !== undefined) obs.allocated = allocated;
    const problems = planCheck(conf, exp, obs);
    if (problems.length) throw new CniError(ErrCode.CheckFailed, `CHECK failed: ${problems[0]!}`, problems.join('; '));
  } catch (e) {
    throw kernel(e);
  } finally {
    pod.close();
    host.close();
  }
}

/**
 * GC: for every allocation whose attachment is not in `cni.dev/valid-attachments`, removes its host
 * veth (and /32 route) if a leaked namespace kept them alive, then releases the address. Links
 * first, address last, as DEL. Keeps going past failures and reports them together.
 */
export async function cmdGc(conf: NetConf, opts: AttachOptions = {}): Promise<void> {
  const ipam = ipamFor(conf);
  const keep = new Set((conf.validAttachments ?? []).map((a) => `${a.containerID}\n${a.ifname}`));
  const stale = ipam.list().filter((a) => !keep.has(`${a.containerID}\n${a.ifname}`));
  if (stale.length === 0) return;
  const errors: string[] = [];
  const host = openRtnl(opts.hostNetns);
  try {
    for (const a of stale) {
      try {
        await host.ensureLinkAbsent(hostVethName(a.containerID, a.ifname));
        if (conf.mode === 'routed') await host.ensureRouteAbsent({ dst: `${a.ip}/32`, protocol: RTPROT_K8TS });
        ipam.release(a.containerID, a.ifname);
      } catch (e) {
        errors.push(`${a.ip} (${a.containerID}/${a.ifname}): ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  } finally {
    host.close();
  }
  process.stderr.write(`k8ts-cni: GC released ${stale.length - errors.length} of ${stale.length} stale allocations\n`);
  if (errors.length) throw new CniError(ErrCode.Kernel, `GC could not release ${errors.length} allocations`, errors.join('; '));
}

// The dummy device IPVS mode binds its virtual addresses to (`kube-ipvs0`, as upstream): IPVS
// only sees packets the node accepts as local (LOCAL_IN) or sends itself (LOCAL_OUT), so every
// ClusterIP, external IP and load-balancer IP must be a local address of the node.
//
// Design notes. Links go through kernel/rtnl (Rtnl.addDummy; the kernel loads the dummy module
// on demand, and a kernel without it answers EOPNOTSUPP, reported as such). Addresses are /32 host
// addresses, added in bulk on one rtnetlink socket (below); only addresses on our own device are
// ever removed.
import { createRequire } from 'node:module';
import { withNetnsSync } from '../netns.js';
import { errnoName, ipv4ToBuf } from '../rtnl/encode.js';
import { RtnlError, withRtnl, type Rtnl } from '../rtnl/index.js';

const require = createRequire(import.meta.url);
const { createRtNetlink } = require('netlink/dist/rt/rt.js') as typeof import('netlink/dist/rt/rt.js');

export const IPVS_DEVICE = 'kube-ipvs0';
const NLM_F_CREATE = 0x400, NLM_F_EXCL = 0x200;

/** Creates the dummy device unless it exists, and sets it up. */
export async function ensureDummy(rtnl: Rtnl, name = IPVS_DEVICE): Promise<void> {
  const have = await rtnl.getLink(name);
  if (have && have.kind !== 'dummy') throw new RtnlError('dummy ensure', `${name} (is ${have.kind ?? 'a device'})`, 'EEXIST', rtnl.netns);
  if (!have) {
    try { await rtnl.addDummy(name); } catch (e) { if (!(e instanceof RtnlError && e.errno === 'EEXIST')) throw e; }
  }
  // Upstream keeps kube-ipvs0 down: addresses on a down device are still local, and a down device
  // answers no ARP for them, so nothing outside the node learns the VIPs from this interface.
}

/** The IPv4 addresses bound to the device (without prefix), or [] if it does not exist. */
export async function listDeviceAddrs(rtnl: Rtnl, name = IPVS_DEVICE): Promise<string[]> {
  if (!(await rtnl.getLink(name))) return [];
  return (await rtnl.listAddrs(name)).map((a) => a.address);
}

/**
 * Adds and removes /32 addresses on the device (already planned: `add` absent, `del` present).
 * At 10 000 services this is 10 000 addresses: Rtnl.addAddr looks the device up on every call (two
 * round trips each, ~5 ms apiece in the test VM), so here the index is looked up once and the
 * requests go out on one rtnetlink socket with up to WINDOW of them in flight (the kernel answers
 * each by sequence number). EEXIST on add and EADDRNOTAVAIL on delete mean already done.
 */
export async function syncDeviceAddrs(rtnl: Rtnl, add: readonly string[], del: readonly string[], name = IPVS_DEVICE): Promise<void> {
  if (add.length === 0 && del.length === 0) return;
  const index = (await rtnl.requireLink(name)).index;
  const make = (): ReturnType<typeof createRtNetlink> => createRtNetlink();
  const sock = rtnl.netns === undefined ? make() : withNetnsSync(rtnl.netns, make);
  const one = async (ip: string, adding: boolean): Promise<void> => {
    const buf = ipv4ToBuf(ip);
    try {
      if (adding) await sock.newAddress({ family: AF_INET, prefixlen: 32, index }, { local: buf, address: buf }, { flags: NLM_F_CREATE | NLM_F_EXCL });
      else await sock.delAddress({ family: AF_INET, prefixlen: 32, index }, { local: buf, address: buf });
    } catch (e) {
      const errno = errnoName(e);
      if (errno !== (adding ? 'EEXIST' : 'EADDRNOTAVAIL')) throw new RtnlError(adding ? 'address add' : 'address delete', `${ip}/32 dev ${name}`, errno, rtnl.netns);
    }
  };
  try {
    const jobs: [string, boolean][] = [...add.map((a): [string, boolean] => [a, true]), ...del.map((a): [string, boolean] => [a, false])];
    for (let i = 0; i < jobs.length; i += WINDOW) await Promise.all(jobs.slice(i, i + WINDOW).map(([ip, adding]) => one(ip, adding)));
  } finally {
    sock.socket.close();
  }
}
const WINDOW = 256;
const AF_INET = 2;

/** Removes the device (cleanup). A missing device is fine. */
export async function deleteDummy(netns: string | undefined, name = IPVS_DEVICE): Promise<void> {
  await withRtnl(netns, async (r) => { await r.ensureLinkAbsent(name); });
}

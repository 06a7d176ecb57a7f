// Pure pieces of an attachment: the host-side veth name, the result of ADD, merging with a
// prevResult, and what CHECK compares. attach.ts does the kernel work around them.
import { createHash } from 'node:crypto';
import { prefixLen, type CniInterface, type CniResult, type CniRoute, type NetConf } from './config.js';

/** Calico's gateway trick: every pod's default route points at this link-local address. */
export const ROUTED_GATEWAY = '169.254.1.1';
/** Calico's host-side veth MAC: one fixed MAC on every host veth, answered by proxy ARP. */
export const ROUTED_HOST_MAC = 'ee:ee:ee:ee:ee:ee';
/** Prefix of every host-side veth k8ts-cni creates: cleanup and the netplugins recognise ours by it. */
export const HOST_VETH_PREFIX = 'k8ts';
const HOST_VETH_RE = new RegExp(`^${HOST_VETH_PREFIX}[0-9a-f]{11}$`);

/**
 * `k8ts` + 11 hex digits of sha1(containerID/ifname): unique per attachment, stable so DEL finds
 * it again from the same parameters, 15 bytes as IFNAMSIZ allows (calico: `cali` + 11).
 */
export function hostVethName(containerID: string, ifname: string): string {
  return HOST_VETH_PREFIX + createHash('sha1').update(`${containerID}/${ifname}`).digest('hex').slice(0, 11);
}

/**
 * A fixed, locally administered MAC for the bridge. Left alone, a Linux bridge takes the lowest MAC
 * of its ports, so the pods' gateway MAC would change whenever a pod comes or goes (stale ARP
 * entries in every other pod); a MAC set once is kept.
 */
export function bridgeMac(network: string, bridge: string): string {
  const h = createHash('sha1').update(`${network}/${bridge}`).digest();
  return ['02', ...[...h.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

export interface AddOutcome {
  hostVeth: { name: string; mac: string };
  pod: { name: string; mac: string; mtu: number; sandbox: string };
  bridge?: { name: string; mac: string };
  ip: string;
}

/** The ADD result (spec section 5), chained onto `prevResult` when there is one. */
export function buildResult(conf: NetConf, o: AddOutcome): CniResult {
  const prev = conf.prevResult;
  const interfaces: CniInterface[] = [...(prev?.interfaces ?? [])];
  if (o.bridge) interfaces.push({ name: o.bridge.name, mac: o.bridge.mac });
  interfaces.push({ name: o.hostVeth.name, mac: o.hostVeth.mac });
  interfaces.push({ name: o.pod.name, mac: o.pod.mac, mtu: o.pod.mtu, sandbox: o.pod.sandbox });
  const podIndex = interfaces.length - 1;
  const routed = conf.mode === 'routed';
  const gateway = routed ? ROUTED_GATEWAY : conf.ipam.range.gateway;
  const address = `${o.ip}/${routed ? 32 : prefixLen(conf.ipam.range.subnet)}`;
  const routes: CniRoute[] = [...(prev?.routes ?? []), { dst: '0.0.0.0/0', gw: gateway }];
  const r: CniResult = {
    cniVersion: conf.cniVersion,
    interfaces,
    ips: [...(prev?.ips ?? []), { address, gateway, interface: podIndex }],
    routes,
  };
  const dns = conf.dns ?? prev?.dns;
  if (dns) r.dns = dns;
  return r;
}

/** What CHECK expects to find, read from prevResult. */
export interface Expected {
  podIf: CniInterface;
  hostVeth?: CniInterface;
  address: string;
  gateway?: string;
}

/** Pulls our attachment out of prevResult; undefined if prevResult has nothing of ours. */
export function expectedFromPrev(prev: CniResult, ifname: string, netns: string): Expected | undefined {
  const ifs = prev.interfaces ?? [];
  const podIdx = ifs.findIndex((i) => i.name === ifname && (i.sandbox ?? '') !== '' && (netns === '' || i.sandbox === netns));
  if (podIdx < 0) return undefined;
  const ip = (prev.ips ?? []).find((x) => x.interface === podIdx && !x.address.includes(':'));
  if (!ip) return undefined;
  // The exact shape hostVethName makes: the agent's bridge (k8ts0) also starts with the prefix.
  const hostVeth = ifs.find((i) => !i.sandbox && HOST_VETH_RE.test(i.name));
  const e: Expected = { podIf: ifs[podIdx]!, address: ip.address };
  if (hostVeth) e.hostVeth = hostVeth;
  if (ip.gateway) e.gateway = ip.gateway;
  return e;
}

export interface Observed {
  podIf?: { mac: string; up: boolean; mtu: number };
  podAddrs: string[];
  podDefaultVia?: string;
  hostVeth?: { mac: string; up: boolean; master?: string; hairpin?: boolean };
  hostRouteToPod?: boolean;
  allocated?: string;
}

/** Every way the observed attachment differs from what ADD made (empty: CHECK passes). Pure. */
export function planCheck(conf: NetConf, exp: Expected, obs: Observed): string[] {
  const out: string[] = [];
  const ip = exp.address.split('/')[0]!;
  if (!obs.podIf) return [`interface ${exp.podIf.name} is missing in the container`];
  if (exp.podIf.mac && obs.podIf.mac !== exp.podIf.mac.toLowerCase()) out.push(`interface ${exp.podIf.name} has MAC ${obs.podIf.mac}, expected ${exp.podIf.mac}`);
  if (!obs.podIf.up) out.push(`interface ${exp.podIf.name} is down`);
  if (!obs.podAddrs.includes(exp.address)) out.push(`address ${exp.address} is missing on ${exp.podIf.name}`);
  if (exp.gateway && obs.podDefaultVia !== exp.gateway) out.push(`default route via ${exp.gateway} is missing in the container`);
  if (!obs.hostVeth) out.push(`host veth ${exp.hostVeth?.name ?? '(k8ts…)'} is missing`);
  else {
    if (!obs.hostVeth.up) out.push(`host veth ${exp.hostVeth?.name ?? ''} is down`);
    if (conf.mode === 'bridge') {
      if (obs.hostVeth.master !== conf.bridge) out.push(`host veth is not a port of ${conf.bridge}`);
      if (conf.hairpinMode && !obs.hostVeth.hairpin) out.push('hairpin mode is off on the host veth');
    } else if (!obs.hostRouteToPod) out.push(`host route ${ip}/32 to the pod is missing`);
  }
  if (obs.allocated !== ip) out.push(`IPAM holds ${obs.allocated ?? 'nothing'} for this attachment, expected ${ip}`);
  return out;
}

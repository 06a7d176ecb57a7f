// The cluster DNS address of an agent started without --cluster-dns: the ClusterIP(s) of the
// kube-system/kube-dns Service, which `k8ts server` publishes for its DNS add-on (as CoreDNS keeps
// upstream's name). Upstream's kubelet has no default and falls back to the node's resolver;
// clusters give every kubelet the address instead — kubeadm through the kubelet-config ConfigMap,
// k3s by handing agents the server's --cluster-dns. An agent joined by hand with only --server and
// --token would otherwise give its ClusterFirst pods the node's resolv.conf, where no cluster name
// resolves (issue 7: a pod on node 2 "could not reach" any server).
import type { Service } from 'kubernetes-types/core/v1.js';
import { isNotFound } from '../api/client/rest.js';
import { resources, type ClusterClient } from '../api/client/types.js';

export const KUBE_DNS = { namespace: 'kube-system', name: 'kube-dns' } as const;

/** The kube-dns Service's ClusterIPs; empty when the cluster has none (or it is headless). */
export async function discoverClusterDNS(client: ClusterClient): Promise<string[]> {
  let svc: Service;
  try {
    svc = await client.get<Service>(resources.services, KUBE_DNS.namespace, KUBE_DNS.name);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
  const ips = svc.spec?.clusterIPs?.length ? svc.spec.clusterIPs : svc.spec?.clusterIP ? [svc.spec.clusterIP] : [];
  return ips.filter(ip => ip !== 'None' && ip !== '');
}

/**
 * discoverClusterDNS for an agent, tolerant of a server that is still starting (it publishes
 * kube-dns last, so an agent booting with it may ask first): `ips` is filled in place once the
 * Service has an address, retrying every `retryMs` for up to `giveUpMs`. The kubelet holds the
 * same array and reads it at each pod's start, so only pods started before then get the node's
 * resolver — the one window left, and logged.
 */
export class ClusterDnsDiscovery {
  readonly ips: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly client: ClusterClient, private readonly log: { info(f: object, m: string): void; warn(f: object, m: string): void }, private readonly opts: { retryMs?: number; giveUpMs?: number } = {}) {}

  /** Resolves after the first attempt; later ones run in the background until found or given up. */
  async start(): Promise<void> {
    const deadline = Date.now() + (this.opts.giveUpMs ?? 60_000);
    let warned = false;
    const attempt = async (): Promise<void> => {
      const found = await discoverClusterDNS(this.client).catch((err: unknown) => { this.log.warn({ err: String(err) }, `could not read ${KUBE_DNS.namespace}/${KUBE_DNS.name}`); return []; });
      if (this.stopped) return;
      if (found.length) {
        this.ips.splice(0, this.ips.length, ...found);
        this.log.info({ clusterDNS: found }, `cluster DNS from the ${KUBE_DNS.namespace}/${KUBE_DNS.name} Service`);
        return;
      }
      if (!warned) {
        warned = true;
        this.log.warn({}, `no --cluster-dns and no ${KUBE_DNS.namespace}/${KUBE_DNS.name} Service yet: ClusterFirst pods get the node's resolver ("Default" policy) until it exists`);
      }
      if (Date.now() < deadline) {
        this.timer = setTimeout(() => { void attempt(); }, this.opts.retryMs ?? 1000);
        this.timer.unref();
      } else {
        this.log.warn({}, `gave up waiting for ${KUBE_DNS.namespace}/${KUBE_DNS.name}: ClusterFirst pods keep the node's resolver; pass --cluster-dns`);
      }
    };
    await attempt();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

// EndpointSlices (and the legacy Endpoints) for Services with a selector, as upstream's
// endpointslice and endpoints controllers. Pure core: `desiredEndpoints(service, pods)` groups the
// selected pods by their resolved port set (a named targetPort resolves per pod, so pods that
// name a port differently land in different slices), with the ready/serving/terminating
// conditions, nodeName, zone (the Node's topology.kubernetes.io/zone), targetRef and hostname;
// `planSlices` packs each group into slices of at most 100 endpoints, reusing the Service's
// existing slices with the same ports so unchanged slices are not rewritten. Services without a selector are left alone (their slices and
// Endpoints belong to whoever manages them, e.g. the apiserver's `kubernetes` Service).
import type { Endpoints, EndpointSubset, Node, Pod, Service, ServicePort, EndpointAddress } from 'kubernetes-types/core/v1.js';
import type { Endpoint, EndpointPort, EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { KubeObject } from '../../api/object.js';
import { labelsMatch, selectorFromSet } from '../../api/selectors.js';
import { isAlreadyExists, isNotFound } from '../../api/client/rest.js';
import { resources, splitKey } from '../../api/client/types.js';
import type { Informer } from '../../api/client/informer.js';
import type { ControllerContext } from './context.js';
import { isPodReady } from './pods.js';
import { Controller, newControllerRef } from './runtime.js';
import { TriggerTimeTracker, withTriggerTime } from './trigger-time.js';

export const maxEndpointsPerSlice = 100;
export const managedByLabel = 'endpointslice.kubernetes.io/managed-by';
export const managedBy = 'endpointslice-controller.k8s.io';
export const serviceNameLabel = 'kubernetes.io/service-name';
export const headlessLabel = 'service.kubernetes.io/headless';

function resolvePort(sp: ServicePort, pod: Pod): number | undefined {
  const tp = sp.targetPort ?? sp.port;
  if (typeof tp === 'number') return tp;
  if (/^\d+$/.test(tp)) return Number(tp);
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === tp && (p.protocol ?? 'TCP') === (sp.protocol ?? 'TCP')) return p.containerPort;
  }
  return undefined;
}

export interface EndpointGroup { ports: EndpointPort[]; endpoints: Endpoint[]; pods: Pod[] }

/** Pure: the endpoints a Service should have, grouped by resolved port set (sorted, stable). */
export function desiredEndpoints(svc: Service, pods: readonly Pod[], zoneOf: (nodeName: string) => string | undefined = () => undefined): EndpointGroup[] {
  const sel = selectorFromSet(svc.spec?.selector ?? {});
  const publishNotReady = svc.spec?.publishNotReadyAddresses === true;
  const groups = new Map<string, EndpointGroup>();
  const sorted = [...pods].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  for (const pod of sorted) {
    if (pod.metadata?.namespace !== svc.metadata?.namespace || !labelsMatch(sel, pod.metadata?.labels)) continue;
    const ip = pod.status?.podIP;
    if (!ip || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
    const terminating = pod.metadata?.deletionTimestamp !== undefined;
    const podReady = isPodReady(pod);
    const ports: EndpointPort[] = [];
    for (const sp of svc.spec?.ports ?? []) {
      const port = resolvePort(sp, pod);
      if (port === undefined) continue;
      ports.push({ ...(sp.name !== undefined ? { name: sp.name } : { name: '' }), port, protocol: sp.protocol ?? 'TCP', ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}) });
    }
    const key = JSON.stringify(ports);
    let g = groups.get(key);
    if (!g) groups.set(key, g = { ports, endpoints: [], pods: [] });
    const ep: Endpoint = {
      addresses: [ip],
      conditions: { ready: publishNotReady || (podReady && !terminating), serving: podReady, terminating },
      targetRef: { kind: 'Pod', namespace: pod.metadata?.namespace ?? '', name: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '' },
    };
    if (pod.spec?.nodeName) {
      ep.nodeName = pod.spec.nodeName;
      const zone = zoneOf(pod.spec.nodeName);
      if (zone) ep.zone = zone;
    }
    if (pod.spec?.hostname && pod.spec.subdomain === svc.metadata?.name) ep.hostname = pod.spec.hostname;
    g.endpoints.push(ep);
    g.pods.push(pod);
  }
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, g]) => g);
}

export interface SlicePlan { create: EndpointSlice[]; update: EndpointSlice[]; delete: EndpointSlice[] }

function sliceLabels(svc: Service): Record<string, string> {
  const labels: Record<string, string> = { ...(svc.metadata?.labels ?? {}), [serviceNameLabel]: svc.metadata?.name ?? '', [managedByLabel]: managedBy };
  if (svc.spec?.clusterIP === 'None') labels[headlessLabel] = '';
  return labels;
}

/** Pure: the slice writes that bring `existing` (the Service's managed slices) to `groups`. */
export function planSlices(svc: Service, groups: readonly EndpointGroup[], existing: readonly EndpointSlice[]): SlicePlan {
  const plan: SlicePlan = { create: [], update: [], delete: [] };
  const pool = [...existing].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  const labels = sliceLabels(svc);
  const ref = newControllerRef(svc as KubeObject, 'v1', 'Service');
  // A Service selecting no pods still gets one empty slice, as upstream keeps a placeholder.
  const chunks: { ports: EndpointPort[]; endpoints: Endpoint[] }[] = [];
  for (const g of groups) for (let i = 0; i < g.endpoints.length; i += maxEndpointsPerSlice) chunks.push({ ports: g.ports, endpoints: g.endpoints.slice(i, i + maxEndpointsPerSlice) });
  if (chunks.length === 0) chunks.push({ ports: [], endpoints: [] });
  for (const ch of chunks) {
    const want = JSON.stringify(ch.ports);
    const idx = pool.findIndex(s => JSON.stringify(s.ports ?? []) === want);
    if (idx >= 0) {
      const have = pool.splice(idx, 1)[0]!;
      const same = JSON.stringify(have.endpoints ?? []) === JSON.stringify(ch.endpoints) && JSON.stringify(have.metadata?.labels ?? {}) === JSON.stringify(labels);
      if (!same) plan.update.push({ ...have, metadata: { ...have.metadata, labels }, ports: ch.ports, endpoints: ch.endpoints });
    } else {
      plan.create.push({
        apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
        metadata: { generateName: `${svc.metadata?.name}-`, namespace: svc.metadata?.namespace ?? 'default', labels, ownerReferences: [ref] },
        addressType: 'IPv4', ports: ch.ports, endpoints: ch.endpoints,
      });
    }
  }
  plan.delete.push(...pool);
  return plan;
}

/** Pure: the legacy Endpoints object (ready addresses and notReadyAddresses per port set). */
export function desiredLegacyEndpoints(svc: Service, groups: readonly EndpointGroup[]): Endpoints {
  const subsets: EndpointSubset[] = [];
  for (const g of groups) {
    if (!g.ports.length && (svc.spec?.ports ?? []).length) continue;
    const addresses: EndpointAddress[] = [], notReady: EndpointAddress[] = [];
    g.endpoints.forEach((ep, i) => {
      if (ep.conditions?.terminating && !svc.spec?.publishNotReadyAddresses) return;
      const a: EndpointAddress = { ip: ep.addresses[0]!, targetRef: ep.targetRef! };
      if (ep.nodeName) a.nodeName = ep.nodeName;
      if (ep.hostname) a.hostname = ep.hostname;
      (ep.conditions?.ready ? addresses : notReady).push(a);
      void g.pods[i];
    });
    if (!addresses.length && !notReady.length) continue;
    subsets.push({
      ...(addresses.length ? { addresses } : {}),
      ...(notReady.length ? { notReadyAddresses: notReady } : {}),
      ports: g.ports.map(p => ({ ...(p.name ? { name: p.name } : {}), port: p.port!, protocol: p.protocol ?? 'TCP', ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}) })),
    });
  }
  const labels: Record<string, string> = { ...(svc.metadata?.labels ?? {}) };
  if (svc.spec?.clusterIP === 'None') labels[headlessLabel] = '';
  return {
    apiVersion: 'v1', kind: 'Endpoints',
    metadata: { name: svc.metadata?.name ?? '', namespace: svc.metadata?.namespace ?? 'default', ...(Object.keys(labels).length ? { labels } : {}) },
    ...(subsets.length ? { subsets } : {}),
  };
}

export class EndpointSliceController {
  readonly controller: Controller;
  private readonly services: Informer<Service>;
  private readonly pods: Informer<Pod>;
  private readonly slices: Informer<EndpointSlice>;
  private readonly endpoints: Informer<Endpoints>;
  private readonly nodes: Informer<Node>;
  /** The last-change-trigger-time annotation of the slices written (proxies' programming latency). */
  private readonly triggerTimes = new TriggerTimeTracker();

  constructor(private readonly ctx: ControllerContext) {
    this.services = ctx.informers.for<Service>(resources.services);
    this.pods = ctx.informers.for<Pod>(resources.pods);
    this.slices = ctx.informers.for<EndpointSlice>(resources.endpointslices);
    this.endpoints = ctx.informers.for<Endpoints>(resources.endpoints);
    this.nodes = ctx.informers.for<Node>(resources.nodes);
    this.controller = new Controller({ name: 'EndpointSlice', workers: ctx.workers ?? 4, clock: ctx.clock, logger: ctx.logger, resyncMs: 30_000, resyncKeys: () => this.services.keys() }, key => this.sync(key));
    this.services.on({ add: s => this.controller.enqueueObject(s), update: (_, s) => this.controller.enqueueObject(s), delete: s => this.controller.enqueueObject(s) });
    const onPod = (p: Pod) => {
      for (const s of this.services.byIndex('namespace', p.metadata?.namespace ?? '')) {
        if (s.spec?.selector && labelsMatch(selectorFromSet(s.spec.selector), p.metadata?.labels)) this.controller.enqueueObject(s);
      }
    };
    this.pods.on({ add: onPod, update: (old, p) => { onPod(p); if (JSON.stringify(old.metadata?.labels) !== JSON.stringify(p.metadata?.labels)) onPod(old); }, delete: onPod });
    this.slices.on({ delete: s => { const n = s.metadata?.labels?.[serviceNameLabel]; if (n && s.metadata?.labels?.[managedByLabel] === managedBy) this.controller.enqueue(`${s.metadata?.namespace}/${n}`); } });
  }

  start(): void { this.controller.start(); }
  stop(): Promise<void> { return this.controller.stop(); }

  async sync(key: string): Promise<void> {
    const svc = this.services.get(key);
    const { namespace, name } = splitKey(key);
    const ns = namespace ?? 'default';
    const c = this.ctx.client;
    // Slices of a deleted Service go with it (garbage collector, through ownerReferences).
    if (!svc || !svc.spec?.selector || svc.metadata?.deletionTimestamp) { this.triggerTimes.delete(key); return; }
    const groups = desiredEndpoints(svc, this.pods.byIndex('namespace', ns) as Pod[], n => this.nodes.getBy(undefined, n)?.metadata?.labels?.['topology.kubernetes.io/zone']);
    const existing = this.slices.byIndex('namespace', ns).filter(s => s.metadata?.labels?.[serviceNameLabel] === name && s.metadata?.labels?.[managedByLabel] === managedBy);
    const plan = planSlices(svc, groups, existing);
    const trigger = this.triggerTimes.compute(key, svc, groups.flatMap(g => g.pods));
    for (const s of plan.update) await c.update(resources.endpointslices, withTriggerTime(s, trigger));
    for (const s of plan.create) await c.create(resources.endpointslices, ns, withTriggerTime(s, trigger));
    for (const s of plan.delete) { try { await c.delete(resources.endpointslices, ns, s.metadata?.name ?? ''); } catch (err) { if (!isNotFound(err)) throw err; } }

    const want = desiredLegacyEndpoints(svc, groups);
    const have = this.endpoints.getBy(ns, name);
    if (!have) {
      try { await c.create(resources.endpoints, ns, want); } catch (err) { if (!isAlreadyExists(err)) throw err; }
    } else if (JSON.stringify(have.subsets ?? []) !== JSON.stringify(want.subsets ?? []) || JSON.stringify(have.metadata?.labels ?? {}) !== JSON.stringify(want.metadata?.labels ?? {})) {
      const next: Endpoints = { ...have, metadata: { ...have.metadata, ...(want.metadata?.labels ? { labels: want.metadata.labels } : {}) } };
      if (want.subsets) next.subsets = want.subsets; else delete next.subsets;
      await c.update(resources.endpoints, next);
    }
  }
}

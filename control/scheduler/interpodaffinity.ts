// InterPodAffinity's filter, for required terms: the incoming pod's podAffinity (some pod it
// selects must run in the same topology domain), its podAntiAffinity (none may), and the
// symmetric check of existing pods' required anti-affinity against the incoming pod. As upstream
// it is split in two: a pre-filter counts matching pods per topology domain over all nodes once
// per scheduling cycle, and the per-node filter only looks the node's domain up. A pod whose
// affinity terms match no pod anywhere may still go where it is allowed if it matches its own
// terms (the first pod of a group that wants to be together). Namespace selectors are read as
// "all namespaces" (the scheduler keeps no Namespace cache yet).
import type { Pod, PodAffinityTerm } from 'kubernetes-types/core/v1.js';
import { fromMetaLabelSelector, labelsMatch } from '../../api/selectors.js';
import type { NodeInfo, PodInfo } from './nodeinfo.js';

export const affinityReasons = {
  affinity: "node(s) didn't match pod affinity rules",
  antiAffinity: "node(s) didn't match pod anti-affinity rules",
  existingAntiAffinity: "node(s) didn't satisfy existing pods anti-affinity rules",
};

export const requiredAffinityTerms = (p: Pod): PodAffinityTerm[] => p.spec?.affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
export const requiredAntiAffinityTerms = (p: Pod): PodAffinityTerm[] => p.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];

/** Does `term`, written in a pod of namespace `ownerNs`, select `target`? */
export function termSelects(term: PodAffinityTerm, ownerNs: string, target: Pod): boolean {
  const ns = target.metadata?.namespace ?? '';
  const namespaces = term.namespaces ?? [];
  const inNs = term.namespaceSelector ? true : namespaces.length ? namespaces.includes(ns) : ns === ownerNs;
  return inNs && labelsMatch(fromMetaLabelSelector(term.labelSelector), target.metadata?.labels);
}

export interface AffinityState {
  /** Per affinity term: topology value → matching pods. */
  affinity: Map<string, number>[];
  anti: Map<string, number>[];
  /** `key=value` domains where an existing pod's anti-affinity rejects the incoming pod. */
  existingAnti: Set<string>;
  anyAffinityMatch: boolean;
  selfMatch: boolean;
}

/** Undefined when there is nothing to check (the common case): the filter is then free. */
export function preFilterInterPodAffinity(pi: PodInfo, nodes: readonly NodeInfo[]): AffinityState | undefined {
  const pod = pi.pod;
  const ns = pod.metadata?.namespace ?? '';
  const aff = requiredAffinityTerms(pod);
  const anti = requiredAntiAffinityTerms(pod);
  const existingWithAnti = nodes.some(n => n.antiAffinityPods > 0);
  if (!aff.length && !anti.length && !existingWithAnti) return undefined;
  const state: AffinityState = { affinity: aff.map(() => new Map()), anti: anti.map(() => new Map()), existingAnti: new Set(), anyAffinityMatch: false, selfMatch: aff.every(t => termSelects(t, ns, pod)) };
  for (const ni of nodes) {
    const labels = ni.node.metadata?.labels ?? {};
    for (const other of ni.pods.values()) {
      if (other.key === pi.key) continue;
      aff.forEach((t, i) => {
        const v = labels[t.topologyKey];
        if (v !== undefined && termSelects(t, ns, other.pod)) { state.affinity[i]!.set(v, (state.affinity[i]!.get(v) ?? 0) + 1); state.anyAffinityMatch = true; }
      });
      anti.forEach((t, i) => {
        const v = labels[t.topologyKey];
        if (v !== undefined && termSelects(t, ns, other.pod)) state.anti[i]!.set(v, (state.anti[i]!.get(v) ?? 0) + 1);
      });
      for (const t of requiredAntiAffinityTerms(other.pod)) {
        const v = labels[t.topologyKey];
        if (v !== undefined && termSelects(t, other.pod.metadata?.namespace ?? '', pod)) state.existingAnti.add(`${t.topologyKey}=${v}`);
      }
    }
  }
  return state;
}

/** Upstream's order: the pod's affinity, then its anti-affinity, then existing pods' anti-affinity. */
export function filterInterPodAffinity(pi: PodInfo, ni: NodeInfo, state: AffinityState | undefined): string[] | undefined {
  if (!state) return undefined;
  const labels = ni.node.metadata?.labels ?? {};
  const aff = requiredAffinityTerms(pi.pod);
  if (aff.length) {
    if (!state.anyAffinityMatch && state.selfMatch) {
      // No pod matches anywhere: allowed wherever the topology keys exist.
      if (aff.some(t => labels[t.topologyKey] === undefined)) return [affinityReasons.affinity];
    } else {
      for (let i = 0; i < aff.length; i++) {
        const v = labels[aff[i]!.topologyKey];
        if (v === undefined || !(state.affinity[i]!.get(v) ?? 0)) return [affinityReasons.affinity];
      }
    }
  }
  const anti = requiredAntiAffinityTerms(pi.pod);
  for (let i = 0; i < anti.length; i++) {
    const v = labels[anti[i]!.topologyKey];
    if (v !== undefined && (state.anti[i]!.get(v) ?? 0) > 0) return [affinityReasons.antiAffinity];
  }
  for (const d of state.existingAnti) {
    const eq = d.indexOf('=');
    if (labels[d.slice(0, eq)] === d.slice(eq + 1)) return [affinityReasons.existingAntiAffinity];
  }
  return undefined;
}

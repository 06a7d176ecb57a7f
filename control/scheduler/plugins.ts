// Filter and score plugins, pure functions of (pod, node). Filters return the reasons a node does
// not fit (upstream's exact wording, since users read them in `kubectl describe pod`) or nothing;
// scores return 0..100. Names and semantics follow the default plugins of kube-scheduler:
// NodeName, NodeUnschedulable, NodeResourcesFit, NodeAffinity, TaintToleration, NodePorts;
// NodeResourcesFit's LeastAllocated, NodeResourcesBalancedAllocation, and a controller spread in
// the spirit of the default PodTopologySpread/SelectorSpread constraints.
import type { NodeSelectorRequirement, NodeSelectorTerm, Taint, Toleration } from 'kubernetes-types/core/v1.js';
import type { NodeInfo, PodInfo } from './nodeinfo.js';

export type FilterResult = string[] | undefined;
export interface FilterPlugin { name: string; filter(pi: PodInfo, ni: NodeInfo): FilterResult }
export interface ScorePlugin { name: string; weight: number; score(pi: PodInfo, ni: NodeInfo): number }

export const reasons = {
  nodeName: "node(s) didn't match the requested node name",
  unschedulable: 'node(s) were unschedulable',
  affinity: "node(s) didn't match Pod's node affinity/selector",
  ports: "node(s) didn't have free ports for the requested pod ports",
  tooManyPods: 'Too many pods',
  insufficient: (r: string) => `Insufficient ${r}`,
  taint: (t: Taint) => `node(s) had untolerated taint {${t.key}: ${t.value ?? ''}}`,
};

export const nodeName: FilterPlugin = {
  name: 'NodeName',
  filter: (pi, ni) => (pi.pod.spec?.nodeName && pi.pod.spec.nodeName !== ni.name ? [reasons.nodeName] : undefined),
};

export function tolerates(tol: Toleration, taint: Taint): boolean {
  if (tol.effect && tol.effect !== taint.effect) return false;
  if (!tol.key) return tol.operator === 'Exists'; // empty key with Exists tolerates everything
  if (tol.key !== taint.key) return false;
  if (tol.operator === 'Exists') return true;
  return (tol.value ?? '') === (taint.value ?? '');
}

export const nodeUnschedulable: FilterPlugin = {
  name: 'NodeUnschedulable',
  filter: (pi, ni) => {
    if (!ni.node.spec?.unschedulable) return undefined;
    const taint: Taint = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };
    return (pi.pod.spec?.tolerations ?? []).some(t => tolerates(t, taint)) ? undefined : [reasons.unschedulable];
  },
};

export const nodeResourcesFit: FilterPlugin = {
  name: 'NodeResourcesFit',
  filter: (pi, ni) => {
    const out: string[] = [];
    const a = ni.allocatable;
    const r = ni.requested;
    const q = pi.requests;
    if (r.pods + 1 > a.pods) out.push(reasons.tooManyPods);
    if (q.milliCPU > 0 && q.milliCPU > a.milliCPU - r.milliCPU) out.push(reasons.insufficient('cpu'));
    if (q.memory > 0 && q.memory > a.memory - r.memory) out.push(reasons.insufficient('memory'));
    if (q.ephemeralStorage > 0 && q.ephemeralStorage > a.ephemeralStorage - r.ephemeralStorage) out.push(reasons.insufficient('ephemeral-storage'));
    for (const [name, v] of Object.entries(q.scalar)) {
      if (v > 0 && v > (a.scalar[name] ?? 0) - (r.scalar[name] ?? 0)) out.push(reasons.insufficient(name));
    }
    return out.length ? out : undefined;
  },
};

function requirementMatches(req: NodeSelectorRequirement, value: string | undefined): boolean {
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In': return value !== undefined && values.includes(value);
    case 'NotIn': return value === undefined || !values.includes(value);
    case 'Exists': return value !== undefined;
    case 'DoesNotExist': return value === undefined;
    case 'Gt': case 'Lt': {
      if (value === undefined || values.length !== 1) return false;
      const have = Number.parseInt(value, 10);
      const want = Number.parseInt(values[0]!, 10);
      if (!Number.isFinite(have) || !Number.isFinite(want)) return false;
      return req.operator === 'Gt' ? have > want : have < want;
    }
    default: return false;
  }
}

/** A term matches when all its expressions and fields do; an empty term matches nothing. */
export function termMatches(term: NodeSelectorTerm, labels: Record<string, string>, name: string): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  return exprs.every(e => requirementMatches(e, labels[e.key])) && fields.every(f => f.key === 'metadata.name' && requirementMatches(f, name));
}

export const nodeAffinity: FilterPlugin = {
  name: 'NodeAffinity',
  filter: (pi, ni) => {
    const labels = ni.node.metadata?.labels ?? {};
    const sel = pi.pod.spec?.nodeSelector;
    if (sel) for (const [k, v] of Object.entries(sel)) if (labels[k] !== v) return [reasons.affinity];
    const required = pi.pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    if (required && !required.nodeSelectorTerms.some(t => termMatches(t, labels, ni.name))) return [reasons.affinity];
    return undefined;
  },
};

export const taintToleration: FilterPlugin = {
  name: 'TaintToleration',
  filter: (pi, ni) => {
    const tols = pi.pod.spec?.tolerations ?? [];
    for (const taint of ni.node.spec?.taints ?? []) {
      if (taint.effect !== 'NoSchedule' && taint.effect !== 'NoExecute') continue;
      if (!tols.some(t => tolerates(t, taint))) return [reasons.taint(taint)];
    }
    return undefined;
  },
};

function portsConflict(a: { protocol: string; hostIP: string; port: number }, used: Map<string, number>): boolean {
  if (a.hostIP === '0.0.0.0') {
    const prefix = `${a.protocol}/${a.port}/`;
    for (const k of used.keys()) if (k.startsWith(prefix)) return true;
    return false;
  }
  return used.has(`${a.protocol}/${a.port}/${a.hostIP}`) || used.has(`${a.protocol}/${a.port}/0.0.0.0`);
}

export const nodePorts: FilterPlugin = {
  name: 'NodePorts',
  filter: (pi, ni) => (pi.hostPorts.some(hp => portsConflict(hp, ni.usedPorts)) ? [reasons.ports] : undefined),
};

export const defaultFilters: FilterPlugin[] = [nodeUnschedulable, nodeName, taintToleration, nodeAffinity, nodePorts, nodeResourcesFit];

const maxScore = 100;

/** NodeResourcesFit/LeastAllocated over cpu and memory, weights 1 each, as upstream's default. */
export const leastAllocated: ScorePlugin = {
  name: 'NodeResourcesLeastAllocated',
  weight: 1,
  score: (pi, ni) => {
    const part = (alloc: number, req: number) => (alloc <= 0 || req > alloc ? 0 : ((alloc - req) * maxScore) / alloc);
    return Math.floor((part(ni.allocatable.milliCPU, ni.nonZeroCPU + pi.nonZeroCPU) + part(ni.allocatable.memory, ni.nonZeroMemory + pi.nonZeroMemory)) / 2);
  },
};

/** NodeResourcesBalancedAllocation: 100 × (1 − standard deviation of the requested fractions). */
export const balancedAllocation: ScorePlugin = {
  name: 'NodeResourcesBalancedAllocation',
  weight: 1,
  score: (pi, ni) => {
    const frac = (alloc: number, req: number) => (alloc <= 0 ? 1 : Math.min(req / alloc, 1));
    const c = frac(ni.allocatable.milliCPU, ni.requested.milliCPU + pi.requests.milliCPU);
    const m = frac(ni.allocatable.memory, ni.requested.memory + pi.requests.memory);
    const std = Math.abs(c - m) / 2;
    return Math.floor((1 - std) * maxScore);
  },
};

/**
 * Spreading of one controller's pods: fewer pods of the same controller on a node scores higher.
 * Raw counts are normalized over the candidate nodes by `normalizeSpread`.
 */
export const controllerSpread: ScorePlugin = {
  name: 'ControllerSpread',
  weight: 2,
  score: (pi, ni) => (pi.controllerUid ? ni.byController.get(pi.controllerUid) ?? 0 : 0),
};

export function normalizeSpread(counts: number[]): number[] {
  let max = 0;
  for (const c of counts) if (c > max) max = c;
  return counts.map(c => (max === 0 ? maxScore : Math.floor((maxScore * (max - c)) / max)));
}

/** PreferNoSchedule taints: fewer untolerated ones score higher (normalized like spread). */
export const taintPreference: ScorePlugin = {
  name: 'TaintToleration',
  weight: 3,
  score: (pi, ni) => {
    const tols = (pi.pod.spec?.tolerations ?? []).filter(t => !t.effect || t.effect === 'PreferNoSchedule');
    let n = 0;
    for (const taint of ni.node.spec?.taints ?? []) if (taint.effect === 'PreferNoSchedule' && !tols.some(t => tolerates(t, taint))) n++;
    return n;
  },
};

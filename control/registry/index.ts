// The registry: every ResourceDef the apiserver serves, and lookups by (group, version, resource),
// by kind, and by the names kubectl accepts (plural, singular, short names, `resource.group`).
// Order matters only for discovery output: core first, then the groups in upstream's order.
import type { ResourceDef } from './types.js';
import { coreResources } from './core/index.js';
import { controllerrevisions } from './apps/controllerrevisions.js';
import { daemonsets } from './apps/daemonsets.js';
import { deployments } from './apps/deployments.js';
import { replicasets } from './apps/replicasets.js';
import { statefulsets } from './apps/statefulsets.js';
import { horizontalpodautoscalers } from './autoscaling/horizontalpodautoscalers.js';
import { horizontalpodautoscalersV1 } from './autoscaling/horizontalpodautoscalers-v1.js';
import { cronjobs } from './batch/cronjobs.js';
import { jobs } from './batch/jobs.js';
import { leases } from './coordination/leases.js';
import { endpointslices } from './discovery/endpointslices.js';
import { networkpolicies } from './networking/networkpolicies.js';
import { poddisruptionbudgets } from './policy/poddisruptionbudgets.js';
import { storageclasses } from './storage/storageclasses.js';

/** The resources of every group but core, in upstream's group order. */
export const groupResources: readonly ResourceDef[] = [
  controllerrevisions, daemonsets, deployments, replicasets, statefulsets,
  horizontalpodautoscalers,
  horizontalpodautoscalersV1,
  cronjobs, jobs,
  networkpolicies,
  poddisruptionbudgets,
  storageclasses,
  leases,
  endpointslices,
];

export function allResources(): ResourceDef[] {
  return [...coreResources, ...groupResources];
}

const key = (group: string, version: string, resource: string) => `${group}/${version}/${resource}`;
let byResource: Map<string, ResourceDef> | undefined;

function index(): Map<string, ResourceDef> {
  if (!byResource) byResource = new Map(allResources().map(d => [key(d.group, d.version, d.resource), d]));
  return byResource;
}

/** The definition served at /apis/<group>/<version>/.../<resource> ('' group for core). */
export function findByResource(group: string, version: string, resource: string): ResourceDef | undefined {
  return index().get(key(group, version, resource));
}

/** The (preferred, i.e. first registered) definition of a kind in a group. */
export function findByKind(group: string, kind: string): ResourceDef | undefined {
  return allResources().find(d => d.group === group && d.kind === kind);
}

/**
 * Every definition a name given to kubectl may mean: plural, singular or short name, optionally
 * qualified as `name.group` (e.g. `deploy`, `deployments.apps`, `hpa`).
 */
/** One definition per group and resource: the preferred (first listed) version, as kubectl picks. */
function preferredVersions(): ResourceDef[] {
  const seen = new Set<string>();
  return allResources().filter(d => {
    const k = `${d.group}/${d.resource}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export function findByName(name: string): ResourceDef[] {
  const n = name.toLowerCase();
  return preferredVersions().filter(d => {
    const names = [d.resource, d.singularName, ...(d.shortNames ?? [])];
    if (names.includes(n)) return true;
    return d.group !== '' && names.some(x => n === `${x}.${d.group}`);
  });
}

/** Members of a category such as `all` (what `kubectl get all` lists). */
export function resourcesInCategory(category: string): ResourceDef[] {
  return preferredVersions().filter(d => (d.categories ?? []).includes(category));
}

/** Group/versions served, each with its resources, in registration order (for discovery). */
export function groupVersions(): { group: string; version: string; resources: ResourceDef[] }[] {
  const out: { group: string; version: string; resources: ResourceDef[] }[] = [];
  for (const d of allResources()) {
    let gv = out.find(x => x.group === d.group && x.version === d.version);
    if (!gv) out.push((gv = { group: d.group, version: d.version, resources: [] }));
    gv.resources.push(d);
  }
  return out;
}

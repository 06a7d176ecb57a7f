// Nodes: cluster-scoped, registered by the agent with its status; `/status` carries heartbeats.
// Updates may set podCIDRs and providerID once; externalID never changes; taints, unschedulable,
// labels and status may change freely (upstream's ValidateNodeUpdate).
import type { Node, NodeSpec, Taint } from 'kubernetes-types/core/v1.js';
import { field, FieldError, FieldPath } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/object.js';
import { parseCidrSloppy } from '../../../api/cidr.js';
import { validateLabelName, validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { isValidCIDR, isValidLabelValue, nameIsDNSSubdomain } from '../../../api/validation/names.js';
import { ageColumn, column, nameColumn, translateTimestampSince } from '../printers.js';
import type { ResourceDef } from '../types.js';
import { ALL_VERBS, as, boolString, keepOldStatus } from './common.js';
import { validateResourceQuantityValue, validateTaintEffect } from './podspec.js';

export const NODE_ROLE_PREFIX = 'node-role.kubernetes.io/';
export const NODE_ROLE_LABEL = 'kubernetes.io/role';

/** Upstream's validateNodeTaints (reported under metadata.taints, as upstream does). */
export function validateNodeTaints(taints: Taint[] | undefined, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const seen = new Map<string, Set<string>>();
  (taints ?? []).forEach((t, i) => {
    const p = path.index(i);
    errs.push(...validateLabelName(t.key, p.child('key')));
    const msgs = isValidLabelValue(t.value ?? '');
    if (msgs.length > 0) errs.push(field.invalid(p.child('value').toString(), t.value ?? '', msgs.join(';')));
    errs.push(...validateTaintEffect(t.effect, false, p.child('effect')));
    const keys = seen.get(t.effect) ?? new Set<string>();
    if (keys.has(t.key)) {
      errs.push(new FieldError('FieldValueDuplicate', p.toString(), t, 'taints must be unique by key and effect pair'));
      return;
    }
    keys.add(t.key);
    seen.set(t.effect, keys);
  });
  return errs;
}

function validatePodCIDRs(spec: NodeSpec | undefined): FieldError[] {
  const cidrs = spec?.podCIDRs ?? [];
  const errs: FieldError[] = [];
  const path = FieldPath.root('spec').child('podCIDRs');
  cidrs.forEach((c, i) => { for (const m of isValidCIDR(c)) errs.push(field.invalid(path.index(i).toString(), c, m)); });
  if (cidrs.length > 1) {
    const families = cidrs.map(c => parseCidrSloppy(c)?.family);
    if (cidrs.length > 2 || families[0] === families[1]) errs.push(field.invalid(path.toString(), cidrs, 'may specify no more than one CIDR for each IP family'));
    const seen = new Set<string>();
    cidrs.forEach((c, i) => { if (seen.has(c)) errs.push(field.duplicate(path.index(i).toString(), c)); seen.add(c); });
  }
  return errs;
}

function validateNode(obj: KubeObject): FieldError[] {
  const node = as<Node>(obj);
  const metaPath = FieldPath.root('metadata');
  const errs = validateObjectMeta(node.metadata, false, metaPath, nameIsDNSSubdomain);
  if (node.spec?.taints?.length) errs.push(...validateNodeTaints(node.spec.taints, metaPath.child('taints')));
  errs.push(...validateNodeResources(node));
  errs.push(...validatePodCIDRs(node.spec));
  return errs;
}

/** Upstream's ValidateNodeResources: capacity and allocatable quantities. */
function validateNodeResources(node: Node): FieldError[] {
  const errs: FieldError[] = [];
  for (const key of ['capacity', 'allocatable'] as const) {
    for (const [name, q] of Object.entries(node.status?.[key] ?? {})) {
      errs.push(...validateResourceQuantityValue(name, q, `status.${key}.${name}`));
    }
  }
  return errs;
}

const POD_CIDR_MSG = 'node updates may not change podCIDR except from "" to valid';

function validateNodeUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const node = as<Node>(obj), oldNode = as<Node>(old);
  const metaPath = FieldPath.root('metadata');
  const errs = validateObjectMetaUpdate(node.metadata, oldNode.metadata);
  errs.push(...validateNodeResources(node));
  const seen = new Set<string>();
  (node.status?.addresses ?? []).forEach((a, i) => {
    const key = `${a.type}/${a.address}`;
    if (seen.has(key)) errs.push(field.duplicate(`status.addresses[${i}]`, a));
    seen.add(key);
  });
  const oldCIDRs = oldNode.spec?.podCIDRs ?? [];
  const newCIDRs = node.spec?.podCIDRs ?? [];
  if (oldCIDRs.length > 0) {
    if (oldCIDRs.length !== newCIDRs.length) errs.push(field.forbidden('spec.podCIDRs', POD_CIDR_MSG));
    else oldCIDRs.forEach((c, i) => { if (c !== newCIDRs[i]) errs.push(field.forbidden('spec.podCIDRs', POD_CIDR_MSG)); });
  }
  if (oldNode.spec?.providerID && oldNode.spec.providerID !== node.spec?.providerID) {
    errs.push(field.forbidden('spec.providerID', 'node updates may not change providerID except from "" to valid'));
  }
  if (node.spec?.taints?.length) errs.push(...validateNodeTaints(node.spec.taints, metaPath.child('taints')));
  if ((node.spec?.externalID ?? '') !== (oldNode.spec?.externalID ?? '')) errs.push(field.forbidden('spec.externalID', 'may not be updated'));
  return errs;
}

/** Sorted roles from `node-role.kubernetes.io/<role>` keys and the `kubernetes.io/role` label. */
export function findNodeRoles(node: Node): string[] {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(node.metadata?.labels ?? {})) {
    if (k.startsWith(NODE_ROLE_PREFIX)) {
      const role = k.slice(NODE_ROLE_PREFIX.length);
      if (role) roles.add(role);
    } else if (k === NODE_ROLE_LABEL && v) {
      roles.add(v);
    }
  }
  return [...roles].sort();
}

export function nodeStatusString(node: Node): string {
  const status: string[] = [];
  const ready = (node.status?.conditions ?? []).find(c => c.type === 'Ready');
  if (ready) status.push(ready.status === 'True' ? 'Ready' : 'NotReady');
  if (status.length === 0) status.push('Unknown');
  if (node.spec?.unschedulable) status.push('SchedulingDisabled');
  return status.join(',');
}

function address(node: Node, type: string): string {
  return (node.status?.addresses ?? []).find(a => a.type === type)?.address ?? '<none>';
}

export const nodes: ResourceDef = {
  group: '',
  version: 'v1',
  kind: 'Node',
  listKind: 'NodeList',
  resource: 'nodes',
  singularName: 'node',
  shortNames: ['no'],
  namespaced: false,
  verbs: ALL_VERBS,
  subresources: ['status', 'proxy'],
  schemaName: 'io.k8s.api.core.v1.Node',
  hasStatusSubresource: true,
  tracksGeneration: false,

  applyDefaults(obj) {
    const status = obj['status'] as Record<string, unknown> | undefined;
    if (status && status['capacity'] && !status['allocatable']) status['allocatable'] = { ...(status['capacity'] as object) };
  },
  prepareForUpdate: keepOldStatus,
  validate: validateNode,
  validateUpdate: validateNodeUpdate,

  tableColumns: [
    nameColumn(),
    column('Status', 'string', 'The status of the node'),
    column('Roles', 'string', 'The roles of the node'),
    ageColumn(),
    column('Version', 'string', 'Kubelet Version reported by the node.'),
    column('Internal-IP', 'string', 'List of addresses reachable to the node. Queried from cloud provider, if available.', 1),
    column('External-IP', 'string', 'List of addresses reachable to the node. Queried from cloud provider, if available.', 1),
    column('OS-Image', 'string', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', 1),
    column('Kernel-Version', 'string', "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
    column('Container-Runtime', 'string', 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).', 1),
  ],
  tableRow(obj, now) {
    const node = as<Node>(obj);
    const info = node.status?.nodeInfo;
    return [
      node.metadata?.name ?? '', nodeStatusString(node), findNodeRoles(node).join(',') || '<none>',
      translateTimestampSince(node.metadata?.creationTimestamp, now), info?.kubeletVersion ?? '',
      address(node, 'InternalIP'), address(node, 'ExternalIP'), info?.osImage || '<unknown>',
      info?.kernelVersion || '<unknown>', info?.containerRuntimeVersion || '<unknown>',
    ];
  },
  fieldSelectorAttributes: obj => ({ 'spec.unschedulable': boolString(as<Node>(obj).spec?.unschedulable) }),
};

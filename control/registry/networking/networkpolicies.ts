// networking.k8s.io/v1 NetworkPolicy: policyTypes default to Ingress (plus Egress when egress rules
// exist) and ports to TCP, as upstream's defaulters; validation as ValidateNetworkPolicySpec (each
// peer exactly one of the selectors or an ipBlock, ports and port ranges, `except` a strict subset
// of `cidr`, at most the two policy types); generation tracking; POD-SELECTOR column.
import type { IPBlock, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec } from 'kubernetes-types/networking/v1.js';
import { FieldPath, field, type FieldError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/object.js';
import { cidrContains, parseCidrSloppy } from '../../../api/cidr.js';
import { validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { isValidCIDR, isValidPortName, isValidPortNum, nameIsDNSSubdomain } from '../../../api/validation/names.js';
import { ageColumn, ageOf, column, nameColumn } from '../printers.js';
import type { ResourceDef } from '../types.js';
import { formatLabelSelector } from '../../../api/selectors.js';
import { validateLabelSelector } from '../apps/common.js';

const asPolicy = (obj: KubeObject): NetworkPolicy => obj as unknown as NetworkPolicy;
const specPath = FieldPath.root('spec');
const PROTOCOLS = ['TCP', 'UDP', 'SCTP'];
const POLICY_TYPES = ['Ingress', 'Egress'];

export function applyNetworkPolicyDefaults(obj: KubeObject): void {
  const np = asPolicy(obj);
  const s = (np.spec ??= { podSelector: {} });
  s.podSelector ??= {};
  for (const rule of s.ingress ?? []) for (const p of rule.ports ?? []) p.protocol ??= 'TCP';
  for (const rule of s.egress ?? []) for (const p of rule.ports ?? []) p.protocol ??= 'TCP';
  if ((s.policyTypes ?? []).length === 0) {
    s.policyTypes = (s.egress ?? []).length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
  }
}

function validatePort(port: NetworkPolicyPort, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (port.protocol !== undefined && !PROTOCOLS.includes(port.protocol)) errs.push(field.notSupported(path.child('protocol').toString(), port.protocol, PROTOCOLS));
  const endPath = path.child('endPort').toString();
  if (port.port !== undefined) {
    if (typeof port.port === 'number') {
      for (const m of isValidPortNum(port.port)) errs.push(field.invalid(path.child('port').toString(), port.port, m));
      if (port.endPort !== undefined) {
        if (port.endPort < port.port) errs.push(field.invalid(endPath, port.port, 'must be greater than or equal to `port`'));
        for (const m of isValidPortNum(port.endPort)) errs.push(field.invalid(endPath, port.endPort, m));
      }
    } else {
      if (port.endPort !== undefined) errs.push(field.invalid(endPath, port.endPort, 'may not be specified when `port` is non-numeric'));
      for (const m of isValidPortName(port.port)) errs.push(field.invalid(path.child('port').toString(), port.port, m));
    }
  } else if (port.endPort !== undefined) {
    errs.push(field.invalid(endPath, port.endPort, 'may not be specified when `port` is not specified'));
  }
  return errs;
}

export function validateIPBlock(ipb: IPBlock, path: FieldPath): FieldError[] {
  const cidrPath = path.child('cidr').toString();
  if (!ipb.cidr) return [field.required(cidrPath)];
  const errs: FieldError[] = isValidCIDR(ipb.cidr).map(m => field.invalid(cidrPath, ipb.cidr, m));
  const cidr = parseCidrSloppy(ipb.cidr);
  if (!cidr) return errs;
  (ipb.except ?? []).forEach((e, i) => {
    const ePath = path.child('except').index(i).toString();
    errs.push(...isValidCIDR(e).map(m => field.invalid(ePath, e, m)));
    const except = parseCidrSloppy(e);
    if (!except) return;
    if (!cidrContains(cidr, { family: except.family, value: except.network }) || cidr.prefix >= except.prefix) {
      errs.push(field.invalid(ePath, e, 'must be a strict subset of `cidr`'));
    }
  });
  return errs;
}

function validatePeer(peer: NetworkPolicyPeer, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  let n = 0;
  if (peer.podSelector) { n++; errs.push(...validateLabelSelector(peer.podSelector, path.child('podSelector'))); }
  if (peer.namespaceSelector) { n++; errs.push(...validateLabelSelector(peer.namespaceSelector, path.child('namespaceSelector'))); }
  if (peer.ipBlock) { n++; errs.push(...validateIPBlock(peer.ipBlock, path.child('ipBlock'))); }
  if (n === 0) errs.push(field.required(path.toString(), 'must specify a peer'));
  else if (n > 1 && peer.ipBlock) errs.push(field.forbidden(path.toString(), 'may not specify both ipBlock and another peer'));
  return errs;
}

export function validateNetworkPolicySpec(s: NetworkPolicySpec | undefined): FieldError[] {
  const errs: FieldError[] = [...validateLabelSelector(s?.podSelector ?? {}, specPath.child('podSelector'))];
  (s?.ingress ?? []).forEach((rule, i) => {
    const p = specPath.child('ingress').index(i);
    (rule.ports ?? []).forEach((port, j) => errs.push(...validatePort(port, p.child('ports').index(j))));
    (rule.from ?? []).forEach((peer, j) => errs.push(...validatePeer(peer, p.child('from').index(j))));
  });
  (s?.egress ?? []).forEach((rule, i) => {
    const p = specPath.child('egress').index(i);
    (rule.to ?? []).forEach((peer, j) => errs.push(...validatePeer(peer, p.child('to').index(j))));
    (rule.ports ?? []).forEach((port, j) => errs.push(...validatePort(port, p.child('ports').index(j))));
  });
  const types = s?.policyTypes ?? [];
  if (types.length > POLICY_TYPES.length) {
    errs.push(field.invalid(specPath.child('policyTypes').toString(), types, 'may not specify more than two policyTypes'));
    return errs;
  }
  types.forEach((t, i) => {
    if (!POLICY_TYPES.includes(t)) errs.push(field.notSupported(specPath.child('policyTypes').index(i).toString(), t, POLICY_TYPES));
  });
  return errs;
}

export const networkpolicies: ResourceDef = {
  group: 'networking.k8s.io', version: 'v1', kind: 'NetworkPolicy', listKind: 'NetworkPolicyList',
  resource: 'networkpolicies', singularName: 'networkpolicy', shortNames: ['netpol'],
  namespaced: true,
  verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  subresources: [],
  schemaName: 'io.k8s.api.networking.v1.NetworkPolicy',
  hasStatusSubresource: false,
  tracksGeneration: true,
  applyDefaults: obj => applyNetworkPolicyDefaults(obj),
  validate: obj => [...validateObjectMeta(obj.metadata, true, FieldPath.root('metadata'), nameIsDNSSubdomain), ...validateNetworkPolicySpec(asPolicy(obj).spec)],
  validateUpdate: (obj, old) => [...validateObjectMetaUpdate(obj.metadata, old.metadata), ...validateNetworkPolicySpec(asPolicy(obj).spec)],
  tableColumns: [
    nameColumn(),
    column('Pod-Selector', 'string', 'podSelector selects the pods to which this NetworkPolicy object applies. The array of ingress rules is applied to any pods selected by this field. Multiple network policies can select the same set of pods. In this case, the ingress rules for each are combined additively. This field is NOT optional and follows standard label selector semantics. An empty podSelector matches all pods in this namespace.'),
    ageColumn(),
  ],
  tableRow: (obj, now) => [obj.metadata?.name ?? '', formatLabelSelector(asPolicy(obj).spec?.podSelector ?? {}), ageOf(obj, now)],
};

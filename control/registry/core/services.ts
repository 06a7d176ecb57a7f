// Services: defaulting (type, session affinity, port protocol and targetPort, traffic policies,
// IP families), validation as upstream's ValidateService/ValidateServiceUpdate, and
// `kubectl get svc`. Allocation of ClusterIPs and NodePorts is the apiserver's (it owns the used
// sets); `needsClusterIP` / `portsNeedingNodePort` tell it what to allocate, and allocators.ts
// picks values. prepareForUpdate carries allocated values a client left out (kubectl apply), as
// upstream's patchAllocatedValues does, so an update never silently re-allocates.
import type { Service, ServicePort, ServiceSpec } from 'kubernetes-types/core/v1.js';
import { field, FieldPath, type FieldError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/object.js';
import { validateObjectMeta, validateObjectMetaUpdate, validateLabels, validateLabelName } from '../../../api/validation/meta.js';
import { parseCidrSloppy, parseIPSloppy } from '../../../api/cidr.js';
import { isDNS1123Label, isDNS1123Subdomain, isValidCIDR, isValidIP, isValidPortNum, nameIsDNS1035Label } from '../../../api/validation/names.js';
import { checkClusterIP, checkNodePort } from '../allocators.js';
import { ageColumn, column, formatLabels, nameColumn, translateTimestampSince } from '../printers.js';
import type { RegistryContext, ResourceDef } from '../types.js';
import { ALL_VERBS, as, keepOldStatus } from './common.js';
import { validatePortNumOrName } from './podspec.js';

const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
const AFFINITIES = ['ClientIP', 'None'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const IP_FAMILY_POLICIES = ['PreferDualStack', 'RequireDualStack', 'SingleStack'];
const IP_FAMILIES = ['IPv4', 'IPv6'];
const TRAFFIC_POLICIES = ['Cluster', 'Local'];
const DEFAULT_CLIENT_IP_TIMEOUT = 10800;

function specOf(obj: KubeObject): ServiceSpec {
  return (obj['spec'] ??= {}) as ServiceSpec;
}

/** Upstream's isHeadlessService: clusterIPs is exactly ["None"] (clusterIP alone before defaulting). */
export function isHeadless(spec: ServiceSpec | undefined): boolean {
  const ips = spec?.clusterIPs;
  if (ips && ips.length > 0) return ips.length === 1 && ips[0] === 'None';
  return spec?.clusterIP === 'None';
}

function externallyAccessible(spec: ServiceSpec): boolean {
  return spec.type === 'LoadBalancer' || spec.type === 'NodePort' || (spec.type === 'ClusterIP' && (spec.externalIPs?.length ?? 0) > 0);
}

/** Whether the service should get a ClusterIP allocated (it has none yet and is not headless/ExternalName). */
export function needsClusterIP(spec: ServiceSpec | undefined): boolean {
  if (!spec || spec.type === 'ExternalName' || isHeadless(spec)) return false;
  return !spec.clusterIP;
}

function wantsNodePorts(spec: ServiceSpec | undefined): boolean {
  if (!spec) return false;
  return spec.type === 'NodePort' || (spec.type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts !== false);
}

/** Indexes of ports that should get a NodePort allocated. */
export function portsNeedingNodePort(spec: ServiceSpec | undefined): number[] {
  if (!wantsNodePorts(spec)) return [];
  return (spec?.ports ?? []).flatMap((p, i) => (p.nodePort ? [] : [i]));
}

/** Whether a healthCheckNodePort should be allocated (LoadBalancer with externalTrafficPolicy Local). */
export function needsHealthCheckNodePort(spec: ServiceSpec | undefined): boolean {
  return spec?.type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local' && !spec.healthCheckNodePort;
}

function familyOfCIDR(cidr: string): 'IPv4' | 'IPv6' {
  return parseCidrSloppy(cidr)?.family === 6 ? 'IPv6' : 'IPv4';
}

/** Upstream's SetDefaults_Service plus the REST layer's single-stack IP family defaults. */
export function applyServiceDefaults(obj: KubeObject, ctx: RegistryContext): void {
  const spec = specOf(obj);
  spec.sessionAffinity ||= 'None';
  if (spec.sessionAffinity === 'None') delete spec.sessionAffinityConfig;
  if (spec.sessionAffinity === 'ClientIP' && spec.sessionAffinityConfig?.clientIP?.timeoutSeconds === undefined) {
    spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: DEFAULT_CLIENT_IP_TIMEOUT } };
  }
  spec.type ||= 'ClusterIP';
  for (const p of spec.ports ?? []) {
    p.protocol ||= 'TCP';
    if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
  }
  if (externallyAccessible(spec) && !spec.externalTrafficPolicy) spec.externalTrafficPolicy = 'Cluster';
  if (!spec.internalTrafficPolicy && ['ClusterIP', 'NodePort', 'LoadBalancer'].includes(spec.type)) spec.internalTrafficPolicy = 'Cluster';
  if (spec.type === 'LoadBalancer') {
    spec.allocateLoadBalancerNodePorts ??= true;
    const status = obj['status'] as Service['status'] | undefined;
    for (const ing of status?.loadBalancer?.ingress ?? []) if (ing.ip && !ing.ipMode) ing.ipMode = 'VIP';
  }
  // clusterIP and clusterIPs name the same primary address.
  if (spec.clusterIP && !spec.clusterIPs?.length) spec.clusterIPs = [spec.clusterIP];
  else if (!spec.clusterIP && spec.clusterIPs?.length) spec.clusterIP = spec.clusterIPs[0] ?? '';
  if (spec.type !== 'ExternalName') {
    // upstream's quirk: selectorless headless services get RequireDualStack (families still single)
    const selectorless = !spec.selector || Object.keys(spec.selector).length === 0;
    spec.ipFamilyPolicy ||= isHeadless(spec) && selectorless ? 'RequireDualStack' : 'SingleStack';
    if (!spec.ipFamilies?.length) {
      const primary = spec.clusterIP && spec.clusterIP !== 'None' ? parseIPSloppy(spec.clusterIP) : undefined;
      spec.ipFamilies = [primary ? (primary.family === 6 ? 'IPv6' : 'IPv4') : familyOfCIDR(ctx.serviceCIDR)];
    }
  }
}

function validateServicePort(sp: ServicePort, requireName: boolean, names: Set<string>, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (requireName && !sp.name) errs.push(field.required(path.child('name').toString(), ''));
  else if (sp.name) {
    for (const m of isDNS1123Label(sp.name)) errs.push(field.invalid(path.child('name').toString(), sp.name, m));
    if (names.has(sp.name)) errs.push(field.duplicate(path.child('name').toString(), sp.name));
    else names.add(sp.name);
  }
  for (const m of isValidPortNum(sp.port)) errs.push(field.invalid(path.child('port').toString(), sp.port, m));
  if (!sp.protocol) errs.push(field.required(path.child('protocol').toString(), ''));
  else if (!PROTOCOLS.includes(sp.protocol)) errs.push(field.notSupported(path.child('protocol').toString(), sp.protocol, PROTOCOLS));
  errs.push(...validatePortNumOrName(sp.targetPort, path.child('targetPort')));
  if (sp.appProtocol !== undefined) errs.push(...validateLabelName(sp.appProtocol, path.child('appProtocol')));
  return errs;
}

/** Upstream's ValidateServiceClusterIPsRelatedFields. */
function validateClusterIPsRelated(spec: ServiceSpec, specPath: FieldPath): FieldError[] {
  if (spec.type === 'ExternalName') return [];
  const errs: FieldError[] = [];
  const ipsPath = specPath.child('clusterIPs');
  const ips = spec.clusterIPs ?? [];
  if (spec.clusterIP) {
    if (ips.length === 0) errs.push(field.required(ipsPath.toString(), ''));
    else if (ips[0] !== spec.clusterIP) errs.push(field.invalid(ipsPath.toString(), ips, 'first value must match `clusterIP`'));
  } else if (ips.length > 0) {
    errs.push(field.invalid(ipsPath.toString(), ips, 'must be empty when `clusterIP` is not specified'));
  }
  const seen = new Set<string>();
  (spec.ipFamilies ?? []).forEach((f, i) => {
    const p = specPath.child('ipFamilies').index(i).toString();
    if (!IP_FAMILIES.includes(f)) errs.push(field.notSupported(p, f, IP_FAMILIES));
    if (seen.has(f)) errs.push(field.duplicate(p, f));
    seen.add(f);
  });
  if (spec.ipFamilyPolicy && !IP_FAMILY_POLICIES.includes(spec.ipFamilyPolicy)) {
    errs.push(field.notSupported(specPath.child('ipFamilyPolicy').toString(), spec.ipFamilyPolicy, IP_FAMILY_POLICIES));
  }
  let invalidIPs = false;
  ips.forEach((ip, i) => {
    if (i === 0 && ip === 'None') {
      if (ips.length > 1) { invalidIPs = true; errs.push(field.invalid(ipsPath.toString(), ips, "'None' must be the first and only value")); }
      return;
    }
    const msgs = isValidIP(ip);
    if (msgs.length > 0) invalidIPs = true;
    for (const m of msgs) errs.push(field.invalid(ipsPath.index(i).toString(), ip, m));
  });
  if (ips.length > 2) errs.push(field.invalid(ipsPath.toString(), ips, 'may only hold up to 2 values'));
  if (invalidIPs) return errs;
  if (ips.length > 1) {
    const families = new Set(ips.map(ip => parseIPSloppy(ip)?.family));
    if (families.size !== ips.length) errs.push(field.invalid(ipsPath.toString(), ips, 'may specify no more than one IP for each IP family'));
  }
  const headless = ips.length === 1 && ips[0] === 'None';
  if (!headless && ips.length > 0 && (spec.ipFamilies?.length ?? 0) > 0) {
    ips.forEach((ip, i) => {
      const fam = spec.ipFamilies?.[i];
      if (fam === undefined) return;
      const v6 = parseIPSloppy(ip)?.family === 6;
      if (fam === 'IPv4' && v6) errs.push(field.invalid(ipsPath.index(i).toString(), ip, `expected an IPv4 value as indicated by \`ipFamilies[${i}]\``));
      if (fam === 'IPv6' && !v6) errs.push(field.invalid(ipsPath.index(i).toString(), ip, `expected an IPv6 value as indicated by \`ipFamilies[${i}]\``));
    });
  }
  return errs;
}

/** Upstream's ValidateNonSpecialIP: no unspecified, loopback or link-local addresses. */
export function validateNonSpecialIP(ip: string, path: string): FieldError[] {
  const parsed = parseIPSloppy(ip);
  if (!parsed) return [field.invalid(path, ip, 'must be a valid IP address')];
  const errs: FieldError[] = [];
  const v = parsed.value;
  const in4 = (lo: bigint, bits: number) => parsed.family === 4 && v >> BigInt(32 - bits) === lo >> BigInt(32 - bits);
  const in6 = (lo: bigint, bits: number) => parsed.family === 6 && v >> BigInt(128 - bits) === lo >> BigInt(128 - bits);
  if (v === 0n) errs.push(field.invalid(path, ip, `may not be unspecified (${ip})`));
  if (in4(0x7f000000n, 8) || (parsed.family === 6 && v === 1n)) errs.push(field.invalid(path, ip, 'may not be in the loopback range (127.0.0.0/8, ::1/128)'));
  if (in4(0xa9fe0000n, 16) || in6(0xfe80n << 112n, 10)) errs.push(field.invalid(path, ip, 'may not be in the link-local range (169.254.0.0/16, fe80::/10)'));
  if (in4(0xe0000000n, 24) || in6(0xff02n << 112n, 16)) errs.push(field.invalid(path, ip, 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)'));
  return errs;
}

/** Upstream's ValidateService, plus the range checks its allocators do for requested values. */
export function validateService(obj: KubeObject, ctx: RegistryContext): FieldError[] {
  const svc = as<Service>(obj);
  const spec: ServiceSpec = svc.spec ?? {};
  const specPath = FieldPath.root('spec');
  const errs = validateObjectMeta(svc.metadata, true, FieldPath.root('metadata'), nameIsDNS1035Label);
  const ports = spec.ports ?? [];
  const headless = isHeadless(spec);
  if (ports.length === 0 && !headless && spec.type !== 'ExternalName') errs.push(field.required(specPath.child('ports').toString(), ''));

  switch (spec.type) {
    case 'LoadBalancer':
      if (headless) errs.push(field.invalid(specPath.child('clusterIPs').index(0).toString(), spec.clusterIPs?.[0] ?? 'None', "may not be set to 'None' for LoadBalancer services"));
      break;
    case 'NodePort':
      if (headless) errs.push(field.invalid(specPath.child('clusterIPs').index(0).toString(), spec.clusterIPs?.[0] ?? 'None', "may not be set to 'None' for NodePort services"));
      break;
    case 'ExternalName': {
      if ((spec.clusterIPs?.length ?? 0) > 0) errs.push(field.forbidden(specPath.child('clusterIPs').toString(), 'may not be set for ExternalName services'));
      if ((spec.ipFamilies?.length ?? 0) > 0) errs.push(field.forbidden(specPath.child('ipFamilies').toString(), 'may not be set for ExternalName services'));
      if (spec.ipFamilyPolicy) errs.push(field.forbidden(specPath.child('ipFamilyPolicy').toString(), 'may not be set for ExternalName services'));
      const cname = (spec.externalName ?? '').replace(/\.$/, '');
      if (cname) for (const m of isDNS1123Subdomain(cname)) errs.push(field.invalid(specPath.child('externalName').toString(), cname, m));
      else errs.push(field.required(specPath.child('externalName').toString(), ''));
      break;
    }
    default:
      break;
  }

  const names = new Set<string>();
  ports.forEach((p, i) => errs.push(...validateServicePort(p, ports.length > 1, names, specPath.child('ports').index(i))));
  if (spec.selector) errs.push(...validateLabels(spec.selector, specPath.child('selector')));

  if (!spec.sessionAffinity) errs.push(field.required(specPath.child('sessionAffinity').toString(), ''));
  else if (!AFFINITIES.includes(spec.sessionAffinity)) errs.push(field.notSupported(specPath.child('sessionAffinity').toString(), spec.sessionAffinity, AFFINITIES));
  if (spec.sessionAffinity === 'ClientIP') {
    const t = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
    const p = specPath.child('sessionAffinityConfig').child('clientIP').child('timeoutSeconds').toString();
    if (t === undefined) errs.push(field.required(p, 'when session affinity type is ClientIP'));
    else if (t <= 0 || t > 86400) errs.push(field.invalid(p, t, 'must be greater than 0 and less than 86400'));
  } else if (spec.sessionAffinity === 'None' && spec.sessionAffinityConfig) {
    errs.push(field.forbidden(specPath.child('sessionAffinityConfig').toString(), 'must not be set when session affinity is None'));
  }

  errs.push(...validateClusterIPsRelated(spec, specPath));

  (spec.externalIPs ?? []).forEach((ip, i) => {
    const p = specPath.child('externalIPs').index(i).toString();
    const msgs = isValidIP(ip);
    for (const m of msgs) errs.push(field.invalid(p, ip, m));
    if (msgs.length === 0) errs.push(...validateNonSpecialIP(ip, p));
  });

  if (!spec.type) errs.push(field.required(specPath.child('type').toString(), ''));
  else if (!SERVICE_TYPES.includes(spec.type)) errs.push(field.notSupported(specPath.child('type').toString(), spec.type, SERVICE_TYPES));

  if (spec.type === 'ClusterIP') {
    ports.forEach((p, i) => {
      if (p.nodePort) errs.push(field.forbidden(specPath.child('ports').index(i).child('nodePort').toString(), "may not be used when `type` is 'ClusterIP'"));
    });
  }
  const nodePorts = new Set<string>();
  ports.forEach((p, i) => {
    if (!p.nodePort) return;
    const key = `${p.protocol ?? ''}/${p.nodePort}`;
    if (nodePorts.has(key)) errs.push(field.duplicate(specPath.child('ports').index(i).child('nodePort').toString(), p.nodePort));
    nodePorts.add(key);
  });
  const portKeys = new Set<string>();
  ports.forEach((p, i) => {
    const key = `${p.protocol ?? ''}/${p.port}`;
    if (portKeys.has(key)) errs.push(field.duplicate(specPath.child('ports').index(i).toString(), { port: p.port, protocol: p.protocol }));
    portKeys.add(key);
  });

  if (spec.loadBalancerSourceRanges?.length) {
    // upstream spells this path with a capital L
    const p = specPath.child('LoadBalancerSourceRanges');
    if (spec.type !== 'LoadBalancer') errs.push(field.forbidden(p.toString(), "may only be used when `type` is 'LoadBalancer'"));
    spec.loadBalancerSourceRanges.forEach((r, i) => {
      const trimmed = r.trim();
      for (const m of isValidCIDR(trimmed)) errs.push(field.invalid(p.index(i).toString(), trimmed, m));
    });
  }
  if (spec.allocateLoadBalancerNodePorts !== undefined && spec.allocateLoadBalancerNodePorts !== null && spec.type !== 'LoadBalancer') {
    errs.push(field.forbidden(specPath.child('allocateLoadBalancerNodePorts').toString(), "may only be used when `type` is 'LoadBalancer'"));
  }
  if (spec.type === 'LoadBalancer' && (spec.allocateLoadBalancerNodePorts === undefined || spec.allocateLoadBalancerNodePorts === null)) {
    errs.push(field.required('allocateLoadBalancerNodePorts', ''));
  }

  if (spec.loadBalancerClass !== undefined && spec.loadBalancerClass !== null) {
    if (spec.type === 'LoadBalancer') errs.push(...validateLabelName(spec.loadBalancerClass, specPath.child('loadBalancerClass')));
    else errs.push(field.forbidden(specPath.child('loadBalancerClass').toString(), "may only be used when `type` is 'LoadBalancer'"));
  }

  // external/internal traffic policies
  const etp = spec.externalTrafficPolicy;
  if (externallyAccessible(spec)) {
    if (!etp) errs.push(field.required(specPath.child('externalTrafficPolicy').toString(), ''));
    else if (!TRAFFIC_POLICIES.includes(etp)) errs.push(field.notSupported(specPath.child('externalTrafficPolicy').toString(), etp, TRAFFIC_POLICIES));
  } else if (etp) {
    errs.push(field.invalid(specPath.child('externalTrafficPolicy').toString(), etp, 'may only be set for externally-accessible services'));
  }
  if (spec.healthCheckNodePort) {
    if (spec.type !== 'LoadBalancer' || etp !== 'Local') {
      errs.push(field.invalid(specPath.child('healthCheckNodePort').toString(), spec.healthCheckNodePort, 'may only be set when `type` is \'LoadBalancer\' and `externalTrafficPolicy` is \'Local\''));
    } else {
      for (const m of isValidPortNum(spec.healthCheckNodePort)) errs.push(field.invalid(specPath.child('healthCheckNodePort').toString(), spec.healthCheckNodePort, m));
    }
  }
  if (!spec.internalTrafficPolicy && ['ClusterIP', 'NodePort', 'LoadBalancer'].includes(spec.type ?? '')) {
    errs.push(field.required(specPath.child('internalTrafficPolicy').toString(), ''));
  }
  if (spec.internalTrafficPolicy && !TRAFFIC_POLICIES.includes(spec.internalTrafficPolicy)) {
    errs.push(field.notSupported(specPath.child('internalTrafficPolicy').toString(), spec.internalTrafficPolicy, TRAFFIC_POLICIES));
  }

  // Requested values must lie in the configured ranges (the allocators' own wording).
  if (spec.type !== 'ExternalName' && spec.clusterIP && spec.clusterIP !== 'None' && isValidIP(spec.clusterIP).length === 0) {
    const why = checkClusterIP(spec.clusterIP, ctx.serviceCIDR, new Set());
    if (why) errs.push(field.invalid(specPath.child('clusterIPs').index(0).toString(), spec.clusterIP, `failed to allocate IP ${spec.clusterIP}: ${why}`));
  }
  ports.forEach((p, i) => {
    if (!p.nodePort || spec.type === 'ClusterIP') return;
    const why = checkNodePort(p.nodePort, ctx.nodePortRange, new Set());
    if (why) errs.push(field.invalid(specPath.child('ports').index(i).child('nodePort').toString(), p.nodePort, why));
  });
  return errs;
}

/** Upstream's validateUpgradeDowngradeClusterIPs, for single-stack clusters. */
function validateClusterIPUpdate(newSpec: ServiceSpec, oldSpec: ServiceSpec): FieldError[] {
  if (newSpec.type === 'ExternalName' || oldSpec.type === 'ExternalName') return [];
  if (isHeadless(newSpec) && isHeadless(oldSpec)) return [];
  const errs: FieldError[] = [];
  const oldIPs = oldSpec.clusterIPs ?? (oldSpec.clusterIP ? [oldSpec.clusterIP] : []);
  const newIPs = newSpec.clusterIPs ?? (newSpec.clusterIP ? [newSpec.clusterIP] : []);
  const path = FieldPath.root('spec').child('clusterIPs');
  if (oldIPs.length === newIPs.length) {
    oldIPs.forEach((ip, i) => { if (ip !== newIPs[i]) errs.push(field.invalid(path.index(i).toString(), newIPs, 'may not change once set')); });
  } else if (oldIPs.length > newIPs.length) {
    if (newIPs.length === 0) errs.push(field.invalid(path.index(0).toString(), newIPs, 'primary clusterIP can not be unset'));
    else if (newIPs[0] !== oldIPs[0]) errs.push(field.invalid(path.index(0).toString(), newIPs, 'may not change once set'));
  } else if (oldIPs.length > 0 && newIPs[0] !== oldIPs[0]) {
    errs.push(field.invalid(path.index(0).toString(), newIPs, 'may not change once set'));
  }
  return errs;
}

/** Upstream's validateUpgradeDowngradeIPFamilies (single-stack subset: the primary family is fixed). */
function validateIPFamiliesUpdate(newSpec: ServiceSpec, oldSpec: ServiceSpec): FieldError[] {
  if (newSpec.type === 'ExternalName' || oldSpec.type === 'ExternalName') return [];
  if (isHeadless(newSpec) !== isHeadless(oldSpec) || isHeadless(newSpec)) return [];
  const n = newSpec.ipFamilies ?? [], o = oldSpec.ipFamilies ?? [];
  const p = 'spec.ipFamilies[0]';
  if (n.length === o.length) return o.some((f, i) => f !== n[i]) ? [field.invalid(p, n, 'may not change once set')] : [];
  if (o.length > n.length) {
    const errs: FieldError[] = [];
    if ((newSpec.clusterIPs ?? []).length === 0) errs.push(field.invalid(p, n, 'primary ipFamily can not be unset'));
    if (n.length > 0 && n[0] !== o[0]) errs.push(field.invalid(p, newSpec.clusterIPs ?? [], 'may not change once set'));
    return errs;
  }
  return o.length > 0 && n[0] !== o[0] ? [field.invalid(p, newSpec.clusterIPs ?? [], 'may not change once set')] : [];
}

export function validateServiceUpdate(obj: KubeObject, old: KubeObject, ctx: RegistryContext): FieldError[] {
  const svc = as<Service>(obj), oldSvc = as<Service>(old);
  const errs = validateObjectMetaUpdate(svc.metadata, oldSvc.metadata);
  errs.push(...validateClusterIPUpdate(svc.spec ?? {}, oldSvc.spec ?? {}));
  errs.push(...validateIPFamiliesUpdate(svc.spec ?? {}, oldSvc.spec ?? {}));
  if (svc.spec?.type === 'LoadBalancer' && oldSvc.spec?.type === 'LoadBalancer' && (svc.spec.loadBalancerClass ?? null) !== (oldSvc.spec.loadBalancerClass ?? null)) {
    errs.push(field.invalid('spec.loadBalancerClass', svc.spec.loadBalancerClass ?? null, 'may not change once set'));
  }
  const needsHC = (sp: ServiceSpec) => sp.type === 'LoadBalancer' && sp.externalTrafficPolicy === 'Local';
  if (needsHC(svc.spec ?? {}) && needsHC(oldSvc.spec ?? {}) && (svc.spec?.healthCheckNodePort ?? 0) !== (oldSvc.spec?.healthCheckNodePort ?? 0)) {
    errs.push(field.forbidden('spec.healthCheckNodePort', 'field is immutable'));
  }
  // Ranges are checked for new values only: a range may shrink under existing services.
  const withoutRanges = validateService(obj, ctx).filter(e => !(e.detail.startsWith('failed to allocate IP') || e.detail.startsWith('provided port is not in the valid range')));
  errs.push(...withoutRanges.filter(e => !e.field.startsWith('metadata.name') && !e.field.startsWith('metadata.generateName')));
  const newSpec = svc.spec ?? {};
  const oldSpec = oldSvc.spec ?? {};
  if (newSpec.clusterIP && newSpec.clusterIP !== oldSpec.clusterIP && newSpec.clusterIP !== 'None' && newSpec.type !== 'ExternalName') {
    const why = checkClusterIP(newSpec.clusterIP, ctx.serviceCIDR, new Set());
    if (why) errs.push(field.invalid(FieldPath.root('spec').child('clusterIPs').index(0).toString(), newSpec.clusterIP, `failed to allocate IP ${newSpec.clusterIP}: ${why}`));
  }
  const oldNodePorts = new Set((oldSpec.ports ?? []).map(p => p.nodePort).filter(Boolean));
  (newSpec.ports ?? []).forEach((p, i) => {
    if (!p.nodePort || oldNodePorts.has(p.nodePort) || newSpec.type === 'ClusterIP') return;
    const why = checkNodePort(p.nodePort, ctx.nodePortRange, new Set());
    if (why) errs.push(field.invalid(FieldPath.root('spec').child('ports').index(i).child('nodePort').toString(), p.nodePort, why));
  });
  return errs;
}

/** Upstream's patchAllocatedValues: keep allocated ClusterIPs and NodePorts a client omitted. */
export function patchAllocatedValues(obj: KubeObject, old: KubeObject): void {
  const n = specOf(obj);
  const o = (old['spec'] ?? {}) as ServiceSpec;
  const typeOf = (s: ServiceSpec) => s.type || 'ClusterIP';
  if (typeOf(o) !== 'ExternalName' && typeOf(n) !== 'ExternalName') {
    if (!n.clusterIP && o.clusterIP) n.clusterIP = o.clusterIP;
    if (!n.clusterIPs?.length && o.clusterIPs?.length) n.clusterIPs = [...o.clusterIPs];
  }
  const withType = (s: ServiceSpec): ServiceSpec => ({ ...s, type: typeOf(s) });
  if (wantsNodePorts(withType(o)) && wantsNodePorts(withType(n))) {
    const used = new Set((n.ports ?? []).map(p => p.nodePort).filter((x): x is number => !!x));
    const byPort = new Map((o.ports ?? []).map(p => [p.port, p.nodePort]));
    for (const p of n.ports ?? []) {
      if (p.nodePort) continue;
      const prev = byPort.get(p.port);
      if (prev && !used.has(prev)) { p.nodePort = prev; used.add(prev); }
    }
  }
  if (typeOf(o) === 'LoadBalancer' && typeOf(n) === 'LoadBalancer' && o.externalTrafficPolicy === 'Local' &&
      (n.externalTrafficPolicy ?? 'Local') === 'Local' && !n.healthCheckNodePort && o.healthCheckNodePort) {
    n.healthCheckNodePort = o.healthCheckNodePort;
  }
}

/**
 * Upstream's dropTypeDependentFields: when the type changes so that an allocated or defaulted
 * field no longer applies, and the client left it unchanged, it is wiped (so e.g. NodePort →
 * ClusterIP does not fail on the leftover nodePorts).
 */
export function dropTypeDependentFields(obj: KubeObject, old: KubeObject): void {
  const n = specOf(obj);
  const o = (old['spec'] ?? {}) as ServiceSpec;
  const typeOf = (s: ServiceSpec) => s.type || 'ClusterIP';
  const withType = (s: ServiceSpec): ServiceSpec => ({ ...s, type: typeOf(s) });
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  if (typeOf(o) !== 'ExternalName' && typeOf(n) === 'ExternalName') {
    if (same(n.clusterIP, o.clusterIP) && same(n.clusterIPs, o.clusterIPs)) { delete n.clusterIP; delete n.clusterIPs; }
    if (same(n.ipFamilies, o.ipFamilies)) delete n.ipFamilies;
    if (same(n.ipFamilyPolicy, o.ipFamilyPolicy)) delete n.ipFamilyPolicy;
  }
  const nodePortsOf = (s: ServiceSpec) => (s.ports ?? []).map(p => p.nodePort ?? 0);
  if (wantsNodePorts(withType(o)) && !wantsNodePorts(withType(n)) && same(nodePortsOf(n), nodePortsOf(o))) {
    for (const p of n.ports ?? []) delete p.nodePort;
  }
  const needsHC = (s: ServiceSpec) => typeOf(s) === 'LoadBalancer' && s.externalTrafficPolicy === 'Local';
  if (needsHC(o) && !needsHC(n) && (n.healthCheckNodePort ?? 0) === (o.healthCheckNodePort ?? 0)) delete n.healthCheckNodePort;
  if (typeOf(o) === 'LoadBalancer' && typeOf(n) !== 'LoadBalancer') {
    if (n.allocateLoadBalancerNodePorts !== undefined && n.allocateLoadBalancerNodePorts === o.allocateLoadBalancerNodePorts) delete n.allocateLoadBalancerNodePorts;
    if (n.loadBalancerClass !== undefined && n.loadBalancerClass === o.loadBalancerClass) delete n.loadBalancerClass;
  }
  if (externallyAccessible(withType(o)) && !externallyAccessible(withType(n)) && n.externalTrafficPolicy === o.externalTrafficPolicy) {
    delete n.externalTrafficPolicy;
  }
  if (typeOf(n) !== 'LoadBalancer') obj['status'] = { loadBalancer: {} };
}

// ---------------------------------------------------------------- table

function loadBalancerIngress(svc: Service): string {
  return [...new Set((svc.status?.loadBalancer?.ingress ?? []).map(i => i.ip || i.hostname || '').filter(Boolean))].join(',');
}

function externalIP(svc: Service): string {
  const spec = svc.spec ?? {};
  const ext = spec.externalIPs ?? [];
  switch (spec.type) {
    case 'ClusterIP':
    case 'NodePort':
      return ext.length > 0 ? ext.join(',') : '<none>';
    case 'LoadBalancer': {
      const lb = loadBalancerIngress(svc);
      if (ext.length > 0) return [...(lb ? lb.split(',') : []), ...ext].join(',');
      return lb || '<pending>';
    }
    case 'ExternalName':
      return spec.externalName ?? '';
    default:
      return '<unknown>';
  }
}

export function makePortString(ports: ServicePort[] | undefined): string {
  return (ports ?? []).map(p => (p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol ?? ''}` : `${p.port}/${p.protocol ?? ''}`)).join(',');
}

export const services: ResourceDef = {
  group: '',
  version: 'v1',
  kind: 'Service',
  listKind: 'ServiceList',
  resource: 'services',
  singularName: 'service',
  shortNames: ['svc'],
  categories: ['all'],
  namespaced: true,
  verbs: ALL_VERBS,
  subresources: ['status', 'proxy'],
  schemaName: 'io.k8s.api.core.v1.Service',
  hasStatusSubresource: true,
  tracksGeneration: false,

  applyDefaults: applyServiceDefaults,
  prepareForCreate(obj) {
    obj['status'] = { loadBalancer: {} };
  },
  prepareForUpdate(obj, old) {
    keepOldStatus(obj, old);
    patchAllocatedValues(obj, old);
    dropTypeDependentFields(obj, old);
  },
  validate: validateService,
  validateUpdate: validateServiceUpdate,
  validateStatusUpdate(obj, old) {
    const svc = as<Service>(obj);
    const errs = validateObjectMetaUpdate(svc.metadata, as<Service>(old).metadata);
    (svc.status?.loadBalancer?.ingress ?? []).forEach((ing, i) => {
      if (ing.ip) for (const m of isValidIP(ing.ip)) errs.push(field.invalid(`status.loadBalancer.ingress[${i}].ip`, ing.ip, m));
    });
    return errs;
  },

  tableColumns: [
    nameColumn(),
    column('Type', 'string', 'type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer.'),
    column('Cluster-IP', 'string', 'clusterIP is the IP address of the service and is usually assigned randomly.'),
    column('External-IP', 'string', 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.'),
    column('Port(s)', 'string', 'The list of ports that are exposed by this service.'),
    ageColumn(),
    column('Selector', 'string', 'Route service traffic to pods with label keys and values matching this selector.', 1),
  ],
  tableRow(obj, now) {
    const svc = as<Service>(obj);
    const spec = svc.spec ?? {};
    const ports = makePortString(spec.ports);
    return [
      svc.metadata?.name ?? '', spec.type ?? '', spec.clusterIPs?.[0] ?? '<none>', externalIP(svc), ports || '<none>',
      translateTimestampSince(svc.metadata?.creationTimestamp, now), formatLabels(spec.selector),
    ];
  },
  fieldSelectorAttributes: obj => ({
    'spec.clusterIP': as<Service>(obj).spec?.clusterIP ?? '',
    'spec.type': as<Service>(obj).spec?.type ?? '',
  }),
};

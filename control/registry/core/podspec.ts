// Pod spec defaulting and validation, shared by Pods, ReplicationControllers and (through
// validatePodTemplateSpec / applyPodTemplateDefaults) every workload kind of the other groups.
// Written after upstream's SetDefaults_PodSpec & co (pkg/apis/core/v1/defaults.go) and
// ValidatePodSpec (pkg/apis/core/validation): same paths, same messages, same order, so clients
// see the errors a real apiserver would give. Only the commonly used volume sources get their
// source-specific checks; every source takes part in the "exactly one source" rule.
import type {
  Container, EnvVar, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, Toleration, Volume, VolumeMount,
} from 'kubernetes-types/core/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import { field, FieldPath, type FieldError } from '../../../api/errors.js';
import { compareQuantities, formatQuantity, scaledValue, tryParseQuantity } from '../../../api/quantity.js';
import { validateAnnotations, validateLabelName, validateLabels, validateNonnegativeField } from '../../../api/validation/meta.js';
import {
  inclusiveRangeError, isConfigMapKey, isDNS1123Label, isDNS1123Subdomain, isEnvVarName, isValidLabelValue,
  isValidPortName, isValidPortNum,
} from '../../../api/validation/names.js';

const MAX_INT32 = 2147483647;

// ---------------------------------------------------------------- defaulting

/** Upstream's pull policy default: Always for `:latest` or untagged images, else IfNotPresent. */
export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  const at = image.indexOf('@');
  const ref = at >= 0 ? image.slice(0, at) : image;
  const lastSlash = ref.lastIndexOf('/');
  const colon = ref.indexOf(':', lastSlash + 1);
  const tag = colon >= 0 ? ref.slice(colon + 1) : '';
  if (tag === '' && at >= 0) return 'IfNotPresent'; // digest only
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

export function applyProbeDefaults(p: Probe | undefined): void {
  if (!p) return;
  // upstream defaults zero values too (the fields are plain ints there)
  p.timeoutSeconds ||= 1;
  p.periodSeconds ||= 10;
  p.successThreshold ||= 1;
  p.failureThreshold ||= 3;
  if (p.httpGet) {
    p.httpGet.path ||= '/';
    p.httpGet.scheme ||= 'HTTP';
  }
}

/** Quantities are stored in canonical form (`0.5` → `500m`), as upstream serializes them. */
export function canonicalizeResourceList(list: Record<string, unknown> | undefined): void {
  if (!list) return;
  for (const [name, raw] of Object.entries(list)) {
    const q = tryParseQuantity(raw as string | number);
    if (q) list[name] = formatQuantity(q);
  }
}

/** SetDefaults_Container, SetDefaults_Probe, SetDefaults_HTTPGetAction and friends. */
export function applyContainerDefaults(c: Container): void {
  c.terminationMessagePath ||= '/dev/termination-log';
  c.terminationMessagePolicy ||= 'File';
  if (!c.imagePullPolicy && c.image !== undefined) c.imagePullPolicy = defaultPullPolicy(c.image);
  c.resources ??= {};
  canonicalizeResourceList(c.resources.limits as Record<string, unknown> | undefined);
  canonicalizeResourceList(c.resources.requests as Record<string, unknown> | undefined);
  for (const port of c.ports ?? []) port.protocol ||= 'TCP';
  for (const e of c.env ?? []) {
    if (e.valueFrom?.fieldRef) e.valueFrom.fieldRef.apiVersion ||= 'v1';
  }
  applyProbeDefaults(c.livenessProbe);
  applyProbeDefaults(c.readinessProbe);
  applyProbeDefaults(c.startupProbe);
}

const VOLUME_SOURCES = [
  'emptyDir', 'hostPath', 'gitRepo', 'gcePersistentDisk', 'awsElasticBlockStore', 'secret', 'nfs', 'iscsi',
  'glusterfs', 'flocker', 'persistentVolumeClaim', 'rbd', 'cinder', 'cephfs', 'quobyte', 'downwardAPI', 'fc',
  'flexVolume', 'configMap', 'azureFile', 'vsphereVolume', 'photonPersistentDisk', 'portworxVolume', 'azureDisk',
  'storageos', 'projected', 'scaleIO', 'csi', 'ephemeral', 'image',
] as const;

export function applyVolumeDefaults(v: Volume): void {
  const rec = v as unknown as Record<string, unknown>;
  if (!VOLUME_SOURCES.some(s => rec[s] !== undefined && rec[s] !== null)) v.emptyDir = {};
  if (v.secret) v.secret.defaultMode ??= 420;
  if (v.configMap) v.configMap.defaultMode ??= 420;
  if (v.downwardAPI) v.downwardAPI.defaultMode ??= 420;
  if (v.projected) {
    v.projected.defaultMode ??= 420;
    for (const src of v.projected.sources ?? []) if (src.serviceAccountToken) src.serviceAccountToken.expirationSeconds ??= 3600;
  }
  if (v.hostPath) v.hostPath.type ??= '';
}

/**
 * SetDefaults_PodSpec and the container/volume defaulters it implies: what every pod spec gets,
 * templates included.
 */
export function applyPodSpecDefaults(spec: PodSpec): void {
  spec.dnsPolicy ||= 'ClusterFirst';
  spec.restartPolicy ||= 'Always';
  spec.securityContext ??= {};
  spec.terminationGracePeriodSeconds ??= 30;
  spec.schedulerName ||= 'default-scheduler';
  // The deprecated alias is kept in step, as the v1 conversion does.
  if (spec.serviceAccountName && !spec.serviceAccount) spec.serviceAccount = spec.serviceAccountName;
  else if (spec.serviceAccount && !spec.serviceAccountName) spec.serviceAccountName = spec.serviceAccount;
  for (const c of spec.initContainers ?? []) applyContainerDefaults(c);
  for (const c of spec.containers ?? []) applyContainerDefaults(c);
  for (const c of spec.ephemeralContainers ?? []) applyContainerDefaults(c as Container);
  for (const v of spec.volumes ?? []) applyVolumeDefaults(v);
}

/**
 * SetDefaults_Pod: what only Pods get (not templates): requests default to limits,
 * enableServiceLinks true, and on the host network every container port is a host port.
 */
export function applyPodOnlyDefaults(spec: PodSpec): void {
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
    const limits = c.resources?.limits;
    if (!limits) continue;
    const requests = ((c.resources ??= {}).requests ??= {});
    for (const [name, q] of Object.entries(limits)) if (requests[name] === undefined) requests[name] = q;
  }
  spec.enableServiceLinks ??= true;
  if (spec.hostNetwork) {
    for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
      for (const port of c.ports ?? []) if (!port.hostPort) port.hostPort = port.containerPort;
    }
  }
}

export function applyPodTemplateDefaults(template: PodTemplateSpec | undefined): void {
  if (!template) return;
  applyPodSpecDefaults((template.spec ??= { containers: [] }));
}

export const NOT_READY_TAINT = 'node.kubernetes.io/not-ready';
export const UNREACHABLE_TAINT = 'node.kubernetes.io/unreachable';
export const DEFAULT_TOLERATION_SECONDS = 300;

/** As upstream's DefaultTolerationSeconds: any toleration of the key (or of every key) for NoExecute (or every effect). */
function toleratesNoExecute(tolerations: Toleration[], key: string): boolean {
  return tolerations.some(t => (t.key === key || !t.key) && (t.effect === 'NoExecute' || !t.effect));
}

/**
 * What upstream's admission plugins add to a new pod: DefaultTolerationSeconds (tolerate
 * not-ready and unreachable nodes for 300 s, or what --default-not-ready-toleration-seconds and
 * --default-unreachable-toleration-seconds say), Priority (0 without a class) and ServiceAccount
 * (`default`).
 */
export function applyPodAdmissionDefaults(spec: PodSpec, tolerationSeconds: { notReady: number; unreachable: number } = { notReady: DEFAULT_TOLERATION_SECONDS, unreachable: DEFAULT_TOLERATION_SECONDS }): void {
  const tolerations = (spec.tolerations ??= []);
  for (const [key, seconds] of [[NOT_READY_TAINT, tolerationSeconds.notReady], [UNREACHABLE_TAINT, tolerationSeconds.unreachable]] as const) {
    if (!toleratesNoExecute(tolerations, key)) {
      tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: seconds });
    }
  }
  if (!spec.priorityClassName) spec.priority ??= 0;
  spec.preemptionPolicy ??= 'PreemptLowerPriority';
  if (!spec.serviceAccountName) spec.serviceAccountName = spec.serviceAccount || 'default';
  spec.serviceAccount ??= spec.serviceAccountName;
}

// ---------------------------------------------------------------- validation helpers

const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const FILE_MODE_ERROR = 'must be a number between 0 and 0777 (octal), both inclusive';

const dns1123LabelErrs = (value: string, path: FieldPath): FieldError[] =>
  isDNS1123Label(value).map(m => field.invalid(path.toString(), value, m));

/** A port given as number or IANA name (targetPort, probe ports); absent is the number 0, as in Go. */
export function validatePortNumOrName(port: number | string | undefined, path: FieldPath): FieldError[] {
  if (typeof port === 'string') return isValidPortName(port).map(m => field.invalid(path.toString(), port, m));
  const n = port ?? 0;
  return isValidPortNum(n).map(m => field.invalid(path.toString(), n, m));
}

function validatePathNoBacksteps(target: string, path: FieldPath): FieldError[] {
  return target.split('/').includes('..') ? [field.invalid(path.toString(), target, "must not contain '..'")] : [];
}

function validateLocalDescendingPath(target: string, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (target.startsWith('/')) errs.push(field.invalid(path.toString(), target, 'must be a relative path'));
  errs.push(...validatePathNoBacksteps(target, path));
  return errs;
}

function validateMode(mode: number | undefined, path: FieldPath): FieldError[] {
  return mode !== undefined && (mode > 0o777 || mode < 0) ? [field.invalid(path.toString(), mode, FILE_MODE_ERROR)] : [];
}

interface KeyToPath { key?: string; path?: string; mode?: number }

function validateKeyToPaths(items: KeyToPath[] | undefined, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  (items ?? []).forEach((kp, i) => {
    const p = path.index(i);
    if (!kp.key) errs.push(field.required(p.child('key').toString(), ''));
    if (!kp.path) errs.push(field.required(p.child('path').toString(), ''));
    errs.push(...validateLocalNonReservedPath(kp.path ?? '', p.child('path')));
    errs.push(...validateMode(kp.mode, p.child('mode')));
  });
  return errs;
}

function validateLocalNonReservedPath(target: string, path: FieldPath): FieldError[] {
  const errs = validateLocalDescendingPath(target, path);
  if (target.startsWith('..') && !target.startsWith('../')) errs.push(field.invalid(path.toString(), target, "must not start with '..'"));
  return errs;
}

const HOST_PATH_TYPES = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'];

function validateVolumeSource(v: Volume, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const rec = v as unknown as Record<string, unknown>;
  let n = 0;
  for (const s of VOLUME_SOURCES) {
    if (rec[s] === undefined || rec[s] === null) continue;
    if (n > 0) { errs.push(field.forbidden(path.child(s).toString(), 'may not specify more than 1 volume type')); continue; }
    n++;
    const p = path.child(s);
    switch (s) {
      case 'hostPath': {
        const hp = v.hostPath!;
        if (!hp.path) { errs.push(field.required(p.child('path').toString(), '')); break; }
        errs.push(...validatePathNoBacksteps(hp.path, p.child('path')));
        if (hp.type !== undefined && !HOST_PATH_TYPES.includes(hp.type)) errs.push(field.notSupported(p.child('type').toString(), hp.type, HOST_PATH_TYPES));
        break;
      }
      case 'secret': {
        const sv = v.secret!;
        if (!sv.secretName) errs.push(field.required(p.child('secretName').toString(), ''));
        errs.push(...validateMode(sv.defaultMode, p.child('defaultMode')));
        errs.push(...validateKeyToPaths(sv.items, p.child('items')));
        break;
      }
      case 'configMap': {
        const cv = v.configMap!;
        if (!cv.name) errs.push(field.required(p.child('name').toString(), ''));
        errs.push(...validateMode(cv.defaultMode, p.child('defaultMode')));
        errs.push(...validateKeyToPaths(cv.items, p.child('items')));
        break;
      }
      case 'persistentVolumeClaim':
        if (!v.persistentVolumeClaim!.claimName) errs.push(field.required(p.child('claimName').toString(), ''));
        break;
      case 'nfs': {
        const nv = v.nfs!;
        if (!nv.server) errs.push(field.required(p.child('server').toString(), ''));
        if (!nv.path) errs.push(field.required(p.child('path').toString(), ''));
        else if (!nv.path.startsWith('/')) errs.push(field.invalid(p.child('path').toString(), nv.path, 'must be an absolute path'));
        break;
      }
      case 'downwardAPI':
        errs.push(...validateMode(v.downwardAPI!.defaultMode, p.child('defaultMode')));
        break;
      case 'projected':
        errs.push(...validateMode(v.projected!.defaultMode, p.child('defaultMode')));
        break;
      default:
        break;
    }
  }
  if (n === 0) errs.push(field.required(path.toString(), 'must specify a volume type'));
  return errs;
}

/** Upstream's ValidateVolumes: the valid volumes by name, and every error. */
export function validateVolumes(volumes: Volume[] | undefined, path: FieldPath): { names: Set<string>; errors: FieldError[] } {
  const names = new Set<string>();
  const errors: FieldError[] = [];
  (volumes ?? []).forEach((vol, i) => {
    const p = path.index(i);
    const namePath = p.child('name');
    const el = validateVolumeSource(vol, p);
    if (!vol.name) el.push(field.required(namePath.toString(), ''));
    else el.push(...dns1123LabelErrs(vol.name, namePath));
    if (names.has(vol.name)) el.push(field.duplicate(namePath.toString(), vol.name));
    if (el.length === 0) names.add(vol.name);
    else errors.push(...el);
  });
  return { names, errors };
}

function validateContainerPorts(ports: Container['ports'], path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  (ports ?? []).forEach((port, i) => {
    const p = path.index(i);
    if (port.name) {
      const msgs = isValidPortName(port.name);
      if (msgs.length > 0) for (const m of msgs) errs.push(field.invalid(p.child('name').toString(), port.name, m));
      else if (names.has(port.name)) errs.push(field.duplicate(p.child('name').toString(), port.name));
      else names.add(port.name);
    }
    if (!port.containerPort) errs.push(field.required(p.child('containerPort').toString(), ''));
    else for (const m of isValidPortNum(port.containerPort)) errs.push(field.invalid(p.child('containerPort').toString(), port.containerPort, m));
    if (port.hostPort) for (const m of isValidPortNum(port.hostPort)) errs.push(field.invalid(p.child('hostPort').toString(), port.hostPort, m));
    if (!port.protocol) errs.push(field.required(p.child('protocol').toString(), ''));
    else if (!PROTOCOLS.includes(port.protocol)) errs.push(field.notSupported(p.child('protocol').toString(), port.protocol, PROTOCOLS));
  });
  return errs;
}

const ENV_FIELD_PATHS = [
  'metadata.name', 'metadata.namespace', 'metadata.uid', 'spec.nodeName', 'spec.serviceAccountName',
  'status.hostIP', 'status.hostIPs', 'status.podIP', 'status.podIPs',
];

function validateKeySelector(sel: { name?: string; key: string }, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (sel.name) for (const m of isDNS1123Subdomain(sel.name)) errs.push(field.invalid(path.child('name').toString(), sel.name, m));
  if (!sel.key) errs.push(field.required(path.child('key').toString(), ''));
  else for (const m of isConfigMapKey(sel.key)) errs.push(field.invalid(path.child('key').toString(), sel.key, m));
  return errs;
}

/** Upstream's validateObjectFieldSelector for env: a supported path, or labels/annotations with a valid subscript. */
function validateObjectFieldSelector(fs: { apiVersion?: string; fieldPath: string }, path: FieldPath): FieldError[] {
  if (!fs.apiVersion) return [field.required(path.child('apiVersion').toString(), '')];
  if (!fs.fieldPath) return [field.required(path.child('fieldPath').toString(), '')];
  const sub = /^([^[]+)\['(.*)'\]$/.exec(fs.fieldPath);
  if (sub) {
    const [, base = '', key = ''] = sub;
    if (base === 'metadata.annotations') return validateLabelName(key.toLowerCase(), path);
    if (base === 'metadata.labels') return validateLabelName(key, path);
    return [field.invalid(path.toString(), base, 'does not support subscript')];
  }
  if (!ENV_FIELD_PATHS.includes(fs.fieldPath)) return [field.notSupported(path.child('fieldPath').toString(), fs.fieldPath, ENV_FIELD_PATHS)];
  return [];
}

function validateEnvVarValueFrom(ev: EnvVar, path: FieldPath): FieldError[] {
  const vf = ev.valueFrom;
  if (!vf) return [];
  const errs: FieldError[] = [];
  let n = 0;
  if (vf.fieldRef) {
    n++;
    errs.push(...validateObjectFieldSelector(vf.fieldRef, path.child('fieldRef')));
  }
  if (vf.resourceFieldRef) {
    n++;
    if (!vf.resourceFieldRef.resource) errs.push(field.required(path.child('resourceFieldRef').child('resource').toString(), ''));
  }
  if (vf.configMapKeyRef) { n++; errs.push(...validateKeySelector(vf.configMapKeyRef, path.child('configMapKeyRef'))); }
  if (vf.secretKeyRef) { n++; errs.push(...validateKeySelector(vf.secretKeyRef, path.child('secretKeyRef'))); }
  if (n === 0) errs.push(field.invalid(path.toString(), '', 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`'));
  else if (ev.value) errs.push(field.invalid(path.toString(), '', 'may not be specified when `value` is not empty'));
  else if (n > 1) errs.push(field.invalid(path.toString(), '', 'may not have more than one field specified at a time'));
  return errs;
}

export function validateEnv(env: EnvVar[] | undefined, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  (env ?? []).forEach((ev, i) => {
    const p = path.index(i);
    if (!ev.name) errs.push(field.required(p.child('name').toString(), ''));
    else for (const m of isEnvVarName(ev.name)) errs.push(field.invalid(p.child('name').toString(), ev.name, m));
    errs.push(...validateEnvVarValueFrom(ev, p.child('valueFrom')));
  });
  return errs;
}

/** Upstream's ValidateEnvFrom: a valid prefix and exactly one of configMapRef / secretRef. */
export function validateEnvFrom(envFrom: Container['envFrom'], path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  (envFrom ?? []).forEach((ev, i) => {
    const p = path.index(i);
    if (ev.prefix) for (const m of isEnvVarName(ev.prefix)) errs.push(field.invalid(p.child('prefix').toString(), ev.prefix, m));
    let n = 0;
    for (const key of ['configMapRef', 'secretRef'] as const) {
      const ref = ev[key];
      if (!ref) continue;
      n++;
      if (ref.name) for (const m of isDNS1123Subdomain(ref.name)) errs.push(field.invalid(p.child(key).child('name').toString(), ref.name, m));
    }
    if (n === 0) errs.push(field.invalid(p.toString(), '', 'must specify one of: `configMapRef` or `secretRef`'));
    else if (n > 1) errs.push(field.invalid(p.toString(), '', 'may not have more than one field specified at a time'));
  });
  return errs;
}

function validateVolumeMounts(mounts: VolumeMount[] | undefined, volumes: Set<string>, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const points = new Set<string>();
  (mounts ?? []).forEach((m, i) => {
    const p = path.index(i);
    if (!m.name) errs.push(field.required(p.child('name').toString(), ''));
    if (!volumes.has(m.name)) errs.push(field.notFound(p.child('name').toString(), m.name));
    if (!m.mountPath) errs.push(field.required(p.child('mountPath').toString(), ''));
    if (points.has(m.mountPath)) errs.push(field.invalid(p.child('mountPath').toString(), m.mountPath, 'must be unique'));
    points.add(m.mountPath);
    // upstream reports subPath problems on the list's path, not the item's.
    if (m.subPath) errs.push(...validateLocalDescendingPath(m.subPath, path.child('subPath')));
    if (m.subPathExpr) {
      if (m.subPath) errs.push(field.invalid(p.child('subPathExpr').toString(), m.subPathExpr, 'subPathExpr and subPath are mutually exclusive'));
      errs.push(...validateLocalDescendingPath(m.subPathExpr, path.child('subPathExpr')));
    }
    if (m.mountPropagation !== undefined && !['None', 'HostToContainer', 'Bidirectional'].includes(m.mountPropagation)) {
      errs.push(field.notSupported(path.child('mountPropagation').toString(), m.mountPropagation, ['Bidirectional', 'HostToContainer', 'None']));
    }
  });
  return errs;
}

const STANDARD_CONTAINER_RESOURCES = ['cpu', 'memory', 'ephemeral-storage'];
const STANDARD_RESOURCES = [
  'cpu', 'memory', 'ephemeral-storage', 'requests.cpu', 'requests.memory', 'requests.ephemeral-storage',
  'limits.cpu', 'limits.memory', 'limits.ephemeral-storage', 'pods', 'services', 'replicationcontrollers',
  'resourcequotas', 'secrets', 'persistentvolumeclaims', 'configmaps', 'storage', 'requests.storage',
  'services.nodeports', 'services.loadbalancers',
];
const INTEGER_RESOURCES = [
  'pods', 'services', 'replicationcontrollers', 'resourcequotas', 'secrets', 'persistentvolumeclaims', 'configmaps',
  'services.nodeports', 'services.loadbalancers',
];

function isNativeResource(name: string): boolean {
  return !name.includes('/') || name.startsWith('kubernetes.io/');
}

function isOvercommitAllowed(name: string): boolean {
  return isNativeResource(name) && !name.startsWith('hugepages-');
}

/** Upstream's validateResourceName: qualified, and standard unless it has a domain. */
export function validateResourceName(name: string, path: FieldPath): FieldError[] {
  const errs = validateLabelName(name, path);
  if (errs.length > 0) return errs;
  if (!name.includes('/') && !STANDARD_RESOURCES.includes(name) && !name.startsWith('hugepages-')) {
    errs.push(field.invalid(path.toString(), name, 'must be a standard resource type or fully qualified'));
  }
  return errs;
}

function validateContainerResourceName(name: string, path: FieldPath): FieldError[] {
  const errs = validateResourceName(name, path);
  if (!name.includes('/') && !STANDARD_CONTAINER_RESOURCES.includes(name) && !name.startsWith('hugepages-')) {
    errs.push(field.invalid(path.toString(), name, 'must be a standard resource for containers'));
  }
  return errs;
}

/** Upstream's ValidateResourceQuantityValue: not negative, and whole for countable resources. */
export function validateResourceQuantityValue(name: string, raw: unknown, path: FieldPath | string): FieldError[] {
  const p = path.toString();
  const q = tryParseQuantity(raw as string | number);
  if (!q) return [field.invalid(p, raw, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")];
  const errs: FieldError[] = [];
  if (q.mantissa < 0n) errs.push(field.invalid(p, formatQuantity(q), 'must be greater than or equal to 0'));
  const integer = INTEGER_RESOURCES.includes(name) || !isNativeResource(name);
  if (integer && scaledValue(q, -3) % 1000n !== 0n) errs.push(field.invalid(p, formatQuantity(q), 'must be an integer'));
  return errs;
}

export function validateResourceRequirements(req: ResourceRequirements | undefined, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const limPath = path.child('limits');
  const reqPath = path.child('requests');
  const limits = req?.limits ?? {};
  const requests = req?.requests ?? {};
  const quantity = (name: string, raw: unknown, p: FieldPath): ReturnType<typeof tryParseQuantity> => {
    errs.push(...validateResourceQuantityValue(name, raw, p));
    return tryParseQuantity(raw as string | number);
  };
  for (const [name, raw] of Object.entries(limits)) {
    const p = limPath.key(name);
    errs.push(...validateContainerResourceName(name, p));
    quantity(name, raw, p);
  }
  for (const [name, raw] of Object.entries(requests)) {
    const p = reqPath.key(name);
    errs.push(...validateContainerResourceName(name, p));
    const q = quantity(name, raw, p);
    const limRaw = limits[name];
    if (limRaw !== undefined) {
      const lim = tryParseQuantity(limRaw as string | number);
      if (q && lim) {
        const cmp = compareQuantities(q, lim);
        if (cmp !== 0 && !isOvercommitAllowed(name)) {
          errs.push(field.invalid(reqPath.toString(), formatQuantity(q), `must be equal to ${name} limit of ${formatQuantity(lim)}`));
        } else if (cmp > 0) {
          errs.push(field.invalid(reqPath.toString(), formatQuantity(q), `must be less than or equal to ${name} limit of ${formatQuantity(lim)}`));
        }
      }
    } else if (!isOvercommitAllowed(name)) {
      errs.push(field.required(limPath.toString(), 'Limit must be set for non overcommitable resources'));
    }
  }
  return errs;
}

const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];
const MESSAGE_POLICIES = ['File', 'FallbackToLogsOnError'];

function validateContainerCommon(c: Container, volumes: Set<string>, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const namePath = path.child('name');
  if (!c.name) errs.push(field.required(namePath.toString(), ''));
  else errs.push(...dns1123LabelErrs(c.name, namePath));
  if (!c.image) errs.push(field.required(path.child('image').toString(), ''));
  if (!c.terminationMessagePolicy) errs.push(field.required(path.child('terminationMessagePolicy').toString(), ''));
  else if (!MESSAGE_POLICIES.includes(c.terminationMessagePolicy)) {
    errs.push(field.notSupported(path.child('terminationMessagePolicy').toString(), c.terminationMessagePolicy, MESSAGE_POLICIES));
  }
  errs.push(...validateContainerPorts(c.ports, path.child('ports')));
  errs.push(...validateEnv(c.env, path.child('env')));
  errs.push(...validateEnvFrom(c.envFrom, path.child('envFrom')));
  errs.push(...validateVolumeMounts(c.volumeMounts, volumes, path.child('volumeMounts')));
  if (!c.imagePullPolicy) errs.push(field.required(path.child('imagePullPolicy').toString(), ''));
  else if (!PULL_POLICIES.includes(c.imagePullPolicy)) errs.push(field.notSupported(path.child('imagePullPolicy').toString(), c.imagePullPolicy, PULL_POLICIES));
  errs.push(...validateResourceRequirements(c.resources, path.child('resources')));
  return errs;
}

const HANDLERS = ['exec', 'httpGet', 'tcpSocket', 'grpc'] as const;

function validateProbe(probe: Probe | undefined, path: FieldPath, mustSucceedOnce: boolean): FieldError[] {
  if (!probe) return [];
  const errs: FieldError[] = [];
  let n = 0;
  for (const h of HANDLERS) {
    if (probe[h] === undefined || probe[h] === null) continue;
    if (n > 0) { errs.push(field.forbidden(path.child(h).toString(), 'may not specify more than 1 handler type')); continue; }
    n++;
    const p = path.child(h);
    if (h === 'exec' && !(probe.exec?.command?.length)) errs.push(field.required(p.child('command').toString(), ''));
    if (h === 'httpGet') {
      const g = probe.httpGet!;
      if (!g.path) errs.push(field.required(p.child('path').toString(), ''));
      errs.push(...validatePortNumOrName(g.port, p.child('port')));
      if (g.scheme !== undefined && !['HTTP', 'HTTPS'].includes(g.scheme)) errs.push(field.notSupported(p.child('scheme').toString(), g.scheme, ['HTTP', 'HTTPS']));
    }
    if (h === 'tcpSocket') errs.push(...validatePortNumOrName(probe.tcpSocket!.port, p.child('port')));
    if (h === 'grpc') for (const m of isValidPortNum(probe.grpc!.port)) errs.push(field.invalid(p.child('port').toString(), probe.grpc!.port, m));
  }
  if (n === 0) errs.push(field.required(path.toString(), 'must specify a handler type'));
  for (const k of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold'] as const) {
    errs.push(...validateNonnegativeField(probe[k] ?? 0, path.child(k)));
  }
  if (probe.terminationGracePeriodSeconds !== undefined && probe.terminationGracePeriodSeconds <= 0) {
    errs.push(field.invalid(path.child('terminationGracePeriodSeconds').toString(), probe.terminationGracePeriodSeconds, 'must be greater than 0'));
  }
  if (mustSucceedOnce && probe.successThreshold !== undefined && probe.successThreshold !== 1) {
    errs.push(field.invalid(path.child('successThreshold').toString(), probe.successThreshold, 'must be 1'));
  }
  return errs;
}

export const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

export function validateTaintEffect(effect: string | undefined, allowEmpty: boolean, path: FieldPath): FieldError[] {
  if (!effect) return allowEmpty ? [] : [field.required(path.toString(), '')];
  return TAINT_EFFECTS.includes(effect) ? [] : [field.notSupported(path.toString(), effect, TAINT_EFFECTS)];
}

export function validateTolerations(tolerations: Toleration[] | undefined, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  (tolerations ?? []).forEach((t, i) => {
    const p = path.index(i);
    if (t.key) errs.push(...validateLabelName(t.key, p.child('key')));
    if (!t.key && t.operator !== 'Exists') {
      errs.push(field.invalid(p.child('operator').toString(), t.operator ?? '', 'operator must be Exists when `key` is empty, which means "match all values and all keys"'));
    }
    if (t.tolerationSeconds !== undefined && t.tolerationSeconds !== null && t.effect !== 'NoExecute') {
      errs.push(field.invalid(p.child('effect').toString(), t.effect ?? '', "effect must be 'NoExecute' when `tolerationSeconds` is set"));
    }
    switch (t.operator ?? '') {
      case 'Equal': case '': {
        const msgs = isValidLabelValue(t.value ?? '');
        if (msgs.length > 0) errs.push(field.invalid(p.child('operator').toString(), t.value ?? '', msgs.join(';')));
        break;
      }
      case 'Exists':
        if (t.value) errs.push(field.invalid(p.child('operator').toString(), t, "value must be empty when `operator` is 'Exists'"));
        break;
      default:
        errs.push(field.notSupported(p.child('operator').toString(), t.operator, ['Equal', 'Exists']));
    }
    errs.push(...validateTaintEffect(t.effect, true, p.child('effect')));
  });
  return errs;
}

/** Upstream's checkHostPortConflicts: one hostIP/protocol/hostPort per pod. */
function checkHostPortConflicts(containers: Container[], path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  containers.forEach((c, ci) => (c.ports ?? []).forEach((port, pi) => {
    if (!port.hostPort) return;
    const key = `${port.hostIP ?? ''}/${port.protocol ?? ''}/${port.hostPort}`;
    if (seen.has(key)) errs.push(field.duplicate(path.index(ci).child('ports').index(pi).child('hostPort').toString(), key));
    else seen.add(key);
  }));
  return errs;
}

const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];
const DNS_POLICIES = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'];

/** Upstream's ValidatePodSpec at `path` (usually `spec` or `spec.template.spec`). */
export function validatePodSpec(spec: PodSpec | undefined, path: FieldPath): FieldError[] {
  const s: PodSpec = spec ?? { containers: [] };
  const errs: FieldError[] = [];
  const vols = validateVolumes(s.volumes, path.child('volumes'));
  errs.push(...vols.errors);

  // containers
  const cPath = path.child('containers');
  const containers = s.containers ?? [];
  if (containers.length === 0) errs.push(field.required(cPath.toString(), ''));
  const names = new Set<string>();
  containers.forEach((c, i) => {
    const p = cPath.index(i);
    errs.push(...validateContainerCommon(c, vols.names, p));
    if (names.has(c.name)) errs.push(field.duplicate(p.child('name').toString(), c.name));
    else names.add(c.name);
    errs.push(...validateProbe(c.livenessProbe, p.child('livenessProbe'), true));
    errs.push(...validateProbe(c.readinessProbe, p.child('readinessProbe'), false));
    errs.push(...validateProbe(c.startupProbe, p.child('startupProbe'), true));
    if (c.restartPolicy !== undefined) errs.push(field.forbidden(p.child('restartPolicy').toString(), 'may not be set for non-init containers'));
  });

  errs.push(...checkHostPortConflicts(containers, cPath));

  // init containers: names unique across both lists
  const iPath = path.child('initContainers');
  const allNames = new Set(containers.map(c => c.name));
  (s.initContainers ?? []).forEach((c, i) => {
    const p = iPath.index(i);
    errs.push(...validateContainerCommon(c, vols.names, p));
    const sidecar = c.restartPolicy === 'Always';
    if (c.restartPolicy !== undefined && c.restartPolicy !== 'Always') {
      errs.push(field.notSupported(p.child('restartPolicy').toString(), c.restartPolicy, ['Always']));
    }
    if (allNames.has(c.name)) errs.push(field.duplicate(p.child('name').toString(), c.name));
    else if (c.name) allNames.add(c.name);
    // init containers run one by one, so only conflicts within one count (upstream reports them at index 0)
    errs.push(...checkHostPortConflicts([c], iPath));
    if (sidecar) {
      errs.push(...validateProbe(c.livenessProbe, p.child('livenessProbe'), true));
      errs.push(...validateProbe(c.readinessProbe, p.child('readinessProbe'), false));
      errs.push(...validateProbe(c.startupProbe, p.child('startupProbe'), true));
    } else {
      for (const k of ['lifecycle', 'livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
        if (c[k] !== undefined) errs.push(field.forbidden(p.child(k).toString(), 'may not be set for init containers without restartPolicy=Always'));
      }
    }
  });

  // ephemeral containers (kept light: names and common checks)
  const ePath = path.child('ephemeralContainers');
  const otherNames = new Set([...containers, ...(s.initContainers ?? [])].map(c => c.name));
  (s.ephemeralContainers ?? []).forEach((c, i) => {
    const p = ePath.index(i);
    errs.push(...validateContainerCommon(c as Container, vols.names, p));
    if (allNames.has(c.name)) errs.push(field.duplicate(p.child('name').toString(), c.name));
    else allNames.add(c.name);
    if (c.targetContainerName && !otherNames.has(c.targetContainerName)) errs.push(field.notFound(p.child('targetContainerName').toString(), c.targetContainerName));
    // Ephemeral containers may not take part in the pod's contract (upstream's allow list).
    const rec = c as unknown as Record<string, unknown>;
    for (const k of ['ports', 'resources', 'livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle', 'resizePolicy', 'restartPolicy']) {
      const v = rec[k];
      const empty = v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);
      if (!empty) errs.push(field.forbidden(p.child(k).toString(), 'cannot be set for an Ephemeral Container'));
    }
    (c.volumeMounts ?? []).forEach((m, j) => {
      if (m.subPath) errs.push(field.forbidden(p.child('volumeMounts').index(j).child('subPath').toString(), 'cannot be set for an Ephemeral Container'));
      if (m.subPathExpr) errs.push(field.forbidden(p.child('volumeMounts').index(j).child('subPathExpr').toString(), 'cannot be set for an Ephemeral Container'));
    });
  });

  if (s.hostNetwork) {
    containers.forEach((c, i) => (c.ports ?? []).forEach((port, j) => {
      if (port.hostPort !== port.containerPort) {
        errs.push(field.invalid(cPath.index(i).child('ports').index(j).child('hostPort').toString(), port.hostPort ?? 0, 'must match `containerPort` when `hostNetwork` is true'));
      }
    }));
  }

  const rp = s.restartPolicy ?? '';
  if (rp === '') errs.push(field.required(path.child('restartPolicy').toString(), ''));
  else if (!RESTART_POLICIES.includes(rp)) errs.push(field.notSupported(path.child('restartPolicy').toString(), rp, RESTART_POLICIES));
  const dp = s.dnsPolicy ?? '';
  if (dp === '') errs.push(field.required(path.child('dnsPolicy').toString(), ''));
  else if (!DNS_POLICIES.includes(dp)) errs.push(field.notSupported(path.child('dnsPolicy').toString(), dp, DNS_POLICIES));

  errs.push(...validateLabels(s.nodeSelector, path.child('nodeSelector')));
  if (s.serviceAccountName) for (const m of isDNS1123Subdomain(s.serviceAccountName)) errs.push(field.invalid(path.child('serviceAccountName').toString(), s.serviceAccountName, m));
  if (s.nodeName) for (const m of isDNS1123Subdomain(s.nodeName)) errs.push(field.invalid(path.child('nodeName').toString(), s.nodeName, m));
  if (s.activeDeadlineSeconds !== undefined && (s.activeDeadlineSeconds < 1 || s.activeDeadlineSeconds > MAX_INT32)) {
    errs.push(field.invalid(path.child('activeDeadlineSeconds').toString(), s.activeDeadlineSeconds, inclusiveRangeError(1, MAX_INT32)));
  }
  if (s.hostname) errs.push(...dns1123LabelErrs(s.hostname, path.child('hostname')));
  if (s.subdomain) errs.push(...dns1123LabelErrs(s.subdomain, path.child('subdomain')));
  if (s.tolerations?.length) errs.push(...validateTolerations(s.tolerations, path.child('tolerations')));
  if (s.priorityClassName) for (const m of isDNS1123Subdomain(s.priorityClassName)) errs.push(field.invalid(path.child('priorityClassName').toString(), s.priorityClassName, m));
  if (s.preemptionPolicy !== undefined && !['Never', 'PreemptLowerPriority'].includes(s.preemptionPolicy)) {
    errs.push(field.notSupported(path.child('preemptionPolicy').toString(), s.preemptionPolicy, ['Never', 'PreemptLowerPriority']));
  }
  (s.readinessGates ?? []).forEach((g, i) => errs.push(...validateLabelName(g.conditionType, path.child('readinessGates').index(i).child('conditionType'))));
  return errs;
}

/** Upstream's ValidatePodTemplateSpec: template labels/annotations, the spec, no ephemeral containers. */
export function validatePodTemplateSpec(template: PodTemplateSpec | undefined, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const meta: ObjectMeta = template?.metadata ?? {};
  errs.push(...validateLabels(meta.labels, path.child('labels')));
  errs.push(...validateAnnotations(meta.annotations, path.child('annotations')));
  errs.push(...validatePodSpec(template?.spec, path.child('spec')));
  if (template?.spec?.ephemeralContainers?.length) {
    errs.push(field.forbidden(path.child('spec').child('ephemeralContainers').toString(), 'ephemeral containers not allowed in pod template'));
  }
  return errs;
}

export const SERVICE_ACCOUNT_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';

/**
 * What upstream's ServiceAccount admission plugin adds for automounted tokens: a projected
 * `kube-api-access-<suffix>` volume (token, ca.crt, namespace) mounted read-only in every
 * container that does not already mount something at the service-account path. Opt-in: the
 * agent must be able to serve projected service-account tokens. Returns the volume name, or
 * undefined when nothing was added.
 */
export function addServiceAccountTokenVolume(spec: PodSpec, suffix: string): string | undefined {
  if (spec.automountServiceAccountToken === false) return undefined;
  const name = `kube-api-access-${suffix}`;
  const containers = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  const needing = containers.filter(c => !(c.volumeMounts ?? []).some(m => m.mountPath === SERVICE_ACCOUNT_MOUNT_PATH));
  if (needing.length === 0) return undefined;
  (spec.volumes ??= []).push({
    name,
    projected: {
      defaultMode: 420,
      sources: [
        { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
        { configMap: { name: ROOT_CA_CONFIGMAP, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
      ],
    },
  });
  for (const c of needing) (c.volumeMounts ??= []).push({ name, mountPath: SERVICE_ACCOUNT_MOUNT_PATH, readOnly: true });
  return name;
}

// Pods: defaulting (upstream's defaulters plus what its admission plugins add on create),
// validation of create, update (the spec is immutable but for images, activeDeadlineSeconds,
// added tolerations and a negative grace period going to 1) and status updates, the binding
// rule, and `kubectl get pods` with upstream's STATUS/RESTARTS logic.
import type { Binding, ContainerStatus, Pod, PodSpec, PodStatus, Toleration } from 'kubernetes-types/core/v1.js';
import { field, FieldPath, type FieldError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/object.js';
import { compareQuantities, tryParseQuantity } from '../../../api/quantity.js';
import { semanticEqual, validateImmutableField } from '../../../api/validation/immutable.js';
import { validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { inclusiveRangeError, isDNS1123Subdomain, isValidIP, nameIsDNSSubdomain } from '../../../api/validation/names.js';
import { ageColumn, column, nameColumn, translateTimestampSince } from '../printers.js';
import type { ResourceDef } from '../types.js';
import { ALL_VERBS, as, boolString, keepOldStatus } from './common.js';
import { applyPodAdmissionDefaults, applyPodOnlyDefaults, applyPodSpecDefaults, validatePodSpec, validateTolerations } from './podspec.js';

const MAX_INT32 = 2147483647;

/** Upstream's GetPodQOS: BestEffort without any request/limit, Guaranteed when every container's cpu and memory limits equal its requests. */
export function podQOSClass(spec: PodSpec | undefined): 'BestEffort' | 'Burstable' | 'Guaranteed' {
  const containers = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
  let any = false;
  let guaranteed = true;
  for (const c of containers) {
    const limits = c.resources?.limits ?? {};
    const requests = { ...limits, ...(c.resources?.requests ?? {}) };
    const relevant = (name: string) => name === 'cpu' || name === 'memory';
    for (const [name, q] of Object.entries(requests)) {
      const v = tryParseQuantity(q as string | number);
      if (relevant(name) && v && v.mantissa !== 0n) any = true;
    }
    for (const [name, q] of Object.entries(limits)) {
      const v = tryParseQuantity(q as string | number);
      if (relevant(name) && v && v.mantissa !== 0n) any = true;
    }
    for (const name of ['cpu', 'memory']) {
      const l = limits[name], r = requests[name];
      if (l === undefined || r === undefined) { guaranteed = false; continue; }
      const lq = tryParseQuantity(l as string | number), rq = tryParseQuantity(r as string | number);
      if (!lq || !rq || compareQuantities(lq, rq) !== 0) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

function spec(obj: KubeObject): PodSpec {
  return (obj['spec'] ??= { containers: [] }) as PodSpec;
}

function validatePod(obj: KubeObject): FieldError[] {
  const pod = as<Pod>(obj);
  return [
    ...validateObjectMeta(pod.metadata, true, FieldPath.root('metadata'), nameIsDNSSubdomain),
    ...validatePodSpec(pod.spec, FieldPath.root('spec')),
  ];
}

const UPDATABLE_FIELDS = [
  '`spec.containers[*].image`',
  '`spec.initContainers[*].image`',
  '`spec.activeDeadlineSeconds`',
  '`spec.tolerations` (only additions to existing tolerations)',
  '`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
];

/** Dotted paths whose values differ, for the tail of the "may not change" message. */
function diffPaths(a: unknown, b: unknown, path: string, out: string[]): void {
  if (semanticEqual(a, b)) return;
  const isObj = (v: unknown) => typeof v === 'object' && v !== null;
  if (isObj(a) && isObj(b) && Array.isArray(a) === Array.isArray(b)) {
    const ao = a as Record<string, unknown>, bo = b as Record<string, unknown>;
    for (const k of new Set([...Object.keys(ao), ...Object.keys(bo)])) {
      diffPaths(ao[k], bo[k], Array.isArray(a) ? `${path}[${k}]` : `${path}.${k}`, out);
    }
    return;
  }
  out.push(`${path}: ${JSON.stringify(a ?? null)} -> ${JSON.stringify(b ?? null)}`);
}

function validateOnlyAddedTolerations(newT: Toleration[] | undefined, oldT: Toleration[] | undefined, path: FieldPath): FieldError[] {
  for (const old of oldT ?? []) {
    const found = (newT ?? []).some(n => semanticEqual({ ...old, tolerationSeconds: n.tolerationSeconds }, n));
    if (!found) return [field.forbidden(path.toString(), 'existing toleration can not be modified except its tolerationSeconds')];
  }
  return validateTolerations(newT, path);
}

/** Upstream's ValidatePodUpdate. */
export function validatePodUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const pod = as<Pod>(obj), oldPod = as<Pod>(old);
  const errs = validateObjectMetaUpdate(pod.metadata, oldPod.metadata);
  errs.push(...validatePod(obj));
  const specPath = FieldPath.root('spec');
  const ns: PodSpec = pod.spec ?? { containers: [] };
  const os: PodSpec = oldPod.spec ?? { containers: [] };

  for (const [key, label] of [['containers', 'containers'], ['initContainers', 'initContainers']] as const) {
    const nc = ns[key] ?? [], oc = os[key] ?? [];
    const p = specPath.child(label);
    if (nc.length !== oc.length) {
      errs.push(field.forbidden(p.toString(), 'pod updates may not add or remove containers'));
      return errs;
    }
    nc.forEach((c, i) => {
      if (!c.image) errs.push(field.required(p.index(i).child('image').toString(), ''));
      else if (c.image.trim() !== c.image) errs.push(field.invalid(p.index(i).child('image').toString(), c.image, 'must not have leading or trailing whitespace'));
    });
  }

  const ads = specPath.child('activeDeadlineSeconds').toString();
  if (ns.activeDeadlineSeconds !== undefined && ns.activeDeadlineSeconds !== null) {
    const v = ns.activeDeadlineSeconds;
    if (v < 0 || v > MAX_INT32) { errs.push(field.invalid(ads, v, inclusiveRangeError(0, MAX_INT32))); return errs; }
    if (os.activeDeadlineSeconds !== undefined && os.activeDeadlineSeconds !== null && os.activeDeadlineSeconds < v) {
      errs.push(field.invalid(ads, v, 'must be less than or equal to previous value'));
      return errs;
    }
  } else if (os.activeDeadlineSeconds !== undefined && os.activeDeadlineSeconds !== null) {
    errs.push(field.invalid(ads, undefined, 'must not update from a positive integer to nil value'));
  }

  errs.push(...validateOnlyAddedTolerations(ns.tolerations, os.tolerations, specPath.child('tolerations')));

  if (semanticEqual(ns, os)) return errs;
  const munged: PodSpec = JSON.parse(JSON.stringify(ns)) as PodSpec;
  munged.containers = (munged.containers ?? []).map((c, i) => ({ ...c, image: os.containers?.[i]?.image ?? '' }));
  if (munged.initContainers) munged.initContainers = munged.initContainers.map((c, i) => ({ ...c, image: os.initContainers?.[i]?.image ?? '' }));
  setOrDelete(munged, 'activeDeadlineSeconds', os.activeDeadlineSeconds);
  setOrDelete(munged, 'tolerations', os.tolerations);
  setOrDelete(munged, 'schedulingGates', os.schedulingGates);
  if (os.terminationGracePeriodSeconds !== undefined && os.terminationGracePeriodSeconds < 0 && munged.terminationGracePeriodSeconds === 1) {
    munged.terminationGracePeriodSeconds = os.terminationGracePeriodSeconds;
  }
  if (!semanticEqual(munged, os)) {
    const diff: string[] = [];
    diffPaths(os, munged, 'spec', diff);
    errs.push(field.forbidden(specPath.toString(), `pod updates may not change fields other than ${UPDATABLE_FIELDS.join(',')}\n${diff.join('\n')}`));
  }
  return errs;
}

function setOrDelete<T extends object, K extends keyof T>(o: T, k: K, v: T[K] | undefined): void {
  if (v === undefined) delete o[k];
  else o[k] = v;
}

function isTerminated(s: ContainerStatus | undefined): boolean {
  return !!s?.state?.terminated;
}

/** Upstream's ValidatePodStatusUpdate (the parts that matter to our agent). */
export function validatePodStatusUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const pod = as<Pod>(obj), oldPod = as<Pod>(old);
  const errs = validateObjectMetaUpdate(pod.metadata, oldPod.metadata);
  const statusPath = FieldPath.root('status');
  if ((pod.spec?.nodeName ?? '') !== (oldPod.spec?.nodeName ?? '')) {
    errs.push(field.forbidden(statusPath.child('nodeName').toString(), 'may not be changed directly'));
  }
  const st: PodStatus = pod.status ?? {};
  const nominated = st.nominatedNodeName ?? '';
  if (nominated && nominated !== (oldPod.status?.nominatedNodeName ?? '')) {
    for (const m of isDNS1123Subdomain(nominated)) errs.push(field.invalid(statusPath.child('nominatedNodeName').toString(), nominated, m));
  }
  // QoS is immutable; an omitted one is backfilled upstream, so only a different value is an error.
  if (st.qosClass) errs.push(...validateImmutableField(st.qosClass, oldPod.status?.qosClass, statusPath.child('qosClass').toString()));
  // Containers that may not restart may not leave the terminated state (reported at the old index).
  const oldSpec = oldPod.spec;
  const sidecars = new Set((oldSpec?.initContainers ?? []).filter(c => c.restartPolicy === 'Always').map(c => c.name));
  const checkTransitions = (key: 'containerStatuses' | 'initContainerStatuses' | 'ephemeralContainerStatuses', policy: string | undefined) => {
    if (policy === 'Always') return;
    (oldPod.status?.[key] ?? []).forEach((o, i) => {
      const term = o.state?.terminated;
      if (!term) return;
      if (term.exitCode !== 0 && policy === 'OnFailure') return;
      if (key === 'initContainerStatuses' && sidecars.has(o.name)) return;
      for (const n of st[key] ?? []) {
        if (n.name === o.name && !isTerminated(n)) {
          errs.push(field.forbidden(statusPath.child(key).index(i).child('state').toString(), 'may not be transitioned to non-terminated state'));
        }
      }
    });
  };
  checkTransitions('containerStatuses', oldSpec?.restartPolicy);
  checkTransitions('initContainerStatuses', oldSpec?.restartPolicy);
  checkTransitions('ephemeralContainerStatuses', 'Never');
  (st.podIPs ?? []).forEach((ip, i) => {
    for (const m of isValidIP(ip.ip ?? '')) errs.push(field.invalid(statusPath.child('podIPs').index(i).toString(), ip.ip ?? '', m));
  });
  (st.hostIPs ?? []).forEach((ip, i) => {
    for (const m of isValidIP(ip.ip ?? '')) errs.push(field.invalid(statusPath.child('hostIPs').index(i).toString(), ip.ip ?? '', m));
  });
  return errs;
}

/**
 * Upstream's ValidatePodEphemeralContainersUpdate, for the `ephemeralcontainers` subresource:
 * the pod stays valid and existing ephemeral containers are neither removed nor changed.
 */
export function validateEphemeralContainersUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const pod = as<Pod>(obj), oldPod = as<Pod>(old);
  const errs = [...validateObjectMetaUpdate(pod.metadata, oldPod.metadata), ...validatePod(obj)];
  if (oldPod.metadata?.annotations?.['kubernetes.io/config.mirror'] !== undefined) {
    return [field.forbidden('', 'static pods do not support ephemeral containers')];
  }
  const path = 'spec.ephemeralContainers';
  const byName = new Map((pod.spec?.ephemeralContainers ?? []).map(c => [c.name, c]));
  for (const o of oldPod.spec?.ephemeralContainers ?? []) {
    const n = byName.get(o.name);
    if (!n) errs.push(field.forbidden(path, `existing ephemeral containers ${JSON.stringify(o.name)} may not be removed\n`));
    else if (!semanticEqual(o, n)) {
      const diff: string[] = [];
      diffPaths(o, n, o.name, diff);
      errs.push(field.forbidden(path, `existing ephemeral containers ${JSON.stringify(o.name)} may not be changed\n${diff.join('\n')}`));
    }
  }
  return errs;
}

/** Upstream's ValidatePodBinding (a 422 before applyBinding is tried). */
export function validateBinding(binding: Binding): FieldError[] {
  const errs: FieldError[] = [];
  const kind = binding.target?.kind ?? '';
  if (kind && kind !== 'Node') errs.push(field.notSupported('target.kind', kind, ['Node', '<empty>']));
  if (!binding.target?.name) errs.push(field.required('target.name', ''));
  return errs;
}

/**
 * The `pods/binding` rule: a pod may be bound once. Returns the conflict message (for a 409)
 * or undefined after setting spec.nodeName, the binding's annotations and the PodScheduled
 * condition on `pod`. Call validateBinding first.
 */
export function applyBinding(pod: KubeObject, binding: Binding, now: Date): string | undefined {
  const p = as<Pod>(pod);
  const target = binding.target?.name ?? '';
  const uid = binding.metadata?.uid;
  if (uid && uid !== p.metadata?.uid) return `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${p.metadata?.uid ?? ''}`;
  const s = spec(pod);
  if (p.metadata?.deletionTimestamp) return `pod ${p.metadata.name ?? ''} is being deleted, cannot be assigned to a host`;
  if (s.nodeName) return `pod ${p.metadata?.name ?? ''} is already assigned to node "${s.nodeName}"`;
  s.nodeName = target;
  const annotations = binding.metadata?.annotations;
  if (annotations && Object.keys(annotations).length > 0) {
    const meta = (pod.metadata ??= {});
    meta.annotations = { ...(meta.annotations ?? {}), ...annotations };
  }
  const status = (pod['status'] ??= {}) as PodStatus;
  const conditions = [...(status.conditions ?? []).filter(c => c.type !== 'PodScheduled')];
  conditions.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null as unknown as string, lastTransitionTime: now.toISOString().replace(/\.\d+Z$/, 'Z') });
  (pod['status'] as Record<string, unknown>)['conditions'] = conditions;
  return undefined;
}

// ---------------------------------------------------------------- table

const podColumns = [
  nameColumn(),
  column('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
  column('Status', 'string', 'The aggregate status of the containers in this pod.'),
  column('Restarts', 'string', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
  ageColumn(),
  column('IP', 'string', 'podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.', 1),
  column('Node', 'string', 'NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename', 1),
  column('Nominated Node', 'string', 'nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.', 1),
  column('Readiness Gates', 'string', 'If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to "True" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates', 1),
];

const NODE_UNREACHABLE_REASON = 'NodeLost';

function later(a: string | undefined, b: string | undefined): string | undefined {
  if (!b) return a;
  if (!a) return b;
  return Date.parse(b) > Date.parse(a) ? b : a;
}

/** Upstream's printPod: the row cells NAME READY STATUS RESTARTS AGE IP NODE NOMINATED-NODE READINESS-GATES. */
export function podRow(pod: Pod, now: Date): unknown[] {
  const spec = pod.spec ?? { containers: [] };
  const status = pod.status ?? {};
  let restarts = 0;
  let sidecarRestarts = 0;
  let total = (spec.containers ?? []).length;
  let ready = 0;
  let lastRestart: string | undefined;
  let lastSidecarRestart: string | undefined;
  const phase = status.phase ?? '';
  let reason: string = status.reason || phase;
  for (const c of status.conditions ?? []) {
    if (c.type === 'PodScheduled' && c.reason === 'SchedulingGated') reason = 'SchedulingGated';
  }
  const initSpecs = new Map((spec.initContainers ?? []).map(c => [c.name, c]));
  for (const c of spec.initContainers ?? []) if (c.restartPolicy === 'Always') total++;
  const isSidecar = (name: string) => initSpecs.get(name)?.restartPolicy === 'Always';

  let initializing = false;
  const initStatuses = status.initContainerStatuses ?? [];
  for (let i = 0; i < initStatuses.length; i++) {
    const c = initStatuses[i]!;
    restarts += c.restartCount ?? 0;
    lastRestart = later(lastRestart, c.lastState?.terminated?.finishedAt);
    if (isSidecar(c.name)) {
      sidecarRestarts += c.restartCount ?? 0;
      lastSidecarRestart = later(lastSidecarRestart, c.lastState?.terminated?.finishedAt);
    }
    const term = c.state?.terminated;
    const waiting = c.state?.waiting;
    if (term && term.exitCode === 0) continue;
    if (isSidecar(c.name) && c.started === true) { if (c.ready) ready++; continue; }
    if (term) {
      if (!term.reason) reason = term.signal ? `Init:Signal:${term.signal}` : `Init:ExitCode:${term.exitCode}`;
      else reason = `Init:${term.reason}`;
    } else if (waiting?.reason && waiting.reason !== 'PodInitializing') {
      reason = `Init:${waiting.reason}`;
    } else {
      reason = `Init:${i}/${(spec.initContainers ?? []).length}`;
    }
    initializing = true;
    break;
  }

  const initializedTrue = (status.conditions ?? []).some(c => c.type === 'Initialized' && c.status === 'True');
  if (!initializing || initializedTrue) {
    restarts = sidecarRestarts;
    lastRestart = lastSidecarRestart;
    let hasRunning = false;
    const statuses = status.containerStatuses ?? [];
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i]!;
      restarts += c.restartCount ?? 0;
      lastRestart = later(lastRestart, c.lastState?.terminated?.finishedAt);
      const waiting = c.state?.waiting, term = c.state?.terminated;
      if (waiting?.reason) reason = waiting.reason;
      else if (term?.reason) reason = term.reason;
      else if (term) reason = term.signal ? `Signal:${term.signal}` : `ExitCode:${term.exitCode}`;
      else if (c.ready && c.state?.running) { hasRunning = true; ready++; }
    }
    if (reason === 'Completed' && hasRunning) {
      const podReady = (status.conditions ?? []).some(c => c.type === 'Ready' && c.status === 'True');
      reason = podReady ? 'Running' : 'NotReady';
    }
  }

  if (pod.metadata?.deletionTimestamp && status.reason === NODE_UNREACHABLE_REASON) reason = 'Unknown';
  else if (pod.metadata?.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed') reason = 'Terminating';

  let restartsCell = String(restarts);
  if (restarts !== 0 && lastRestart) restartsCell = `${restarts} (${translateTimestampSince(lastRestart, now)} ago)`;

  const podIP = status.podIPs?.[0]?.ip || '<none>';
  const node = spec.nodeName || '<none>';
  const nominated = status.nominatedNodeName || '<none>';
  let gates = '<none>';
  if (spec.readinessGates?.length) {
    let trueCount = 0;
    for (const g of spec.readinessGates) {
      const cond = (status.conditions ?? []).find(c => c.type === g.conditionType);
      if (cond?.status === 'True') trueCount++;
    }
    gates = `${trueCount}/${spec.readinessGates.length}`;
  }
  return [
    pod.metadata?.name ?? '', `${ready}/${total}`, reason, restartsCell,
    translateTimestampSince(pod.metadata?.creationTimestamp, now), podIP, node, nominated, gates,
  ];
}

export const pods: ResourceDef = {
  group: '',
  version: 'v1',
  kind: 'Pod',
  listKind: 'PodList',
  resource: 'pods',
  singularName: 'pod',
  shortNames: ['po'],
  categories: ['all'],
  namespaced: true,
  verbs: ALL_VERBS,
  subresources: ['status', 'binding', 'eviction', 'log', 'exec', 'attach', 'portforward', 'proxy', 'ephemeralcontainers'],
  schemaName: 'io.k8s.api.core.v1.Pod',
  hasStatusSubresource: true,
  tracksGeneration: false,

  applyDefaults(obj) {
    const s = spec(obj);
    applyPodSpecDefaults(s);
    applyPodOnlyDefaults(s);
    // QoS is derived from the (immutable) resources: backfill it when a status write omits it.
    const status = obj['status'] as Record<string, unknown> | undefined;
    if (status && !status['qosClass']) status['qosClass'] = podQOSClass(s);
  },
  prepareForCreate(obj, ctx) {
    const s = spec(obj);
    applyPodAdmissionDefaults(s, ctx?.defaultTolerationSeconds);
    applyPodSpecDefaults(s);
    applyPodOnlyDefaults(s);
    const status: PodStatus = { phase: 'Pending', qosClass: podQOSClass(s) };
    if (s.schedulingGates?.length) {
      status.conditions = [{ type: 'PodScheduled', status: 'False', reason: 'SchedulingGated', message: 'Scheduling is blocked due to non-empty scheduling gates' }];
    }
    obj['status'] = status;
  },
  prepareForUpdate(obj, old) {
    keepOldStatus(obj, old);
  },
  validate: validatePod,
  validateUpdate: validatePodUpdate,
  validateStatusUpdate: validatePodStatusUpdate,

  tableColumns: podColumns,
  tableRow: (obj, now) => podRow(as<Pod>(obj), now),
  fieldSelectorAttributes(obj) {
    const pod = as<Pod>(obj);
    return {
      'spec.nodeName': pod.spec?.nodeName ?? '',
      'spec.restartPolicy': pod.spec?.restartPolicy ?? '',
      'spec.schedulerName': pod.spec?.schedulerName ?? '',
      'spec.serviceAccountName': pod.spec?.serviceAccountName ?? '',
      'spec.hostNetwork': boolString(pod.spec?.hostNetwork),
      'status.phase': pod.status?.phase ?? '',
      'status.podIP': pod.status?.podIPs?.[0]?.ip ?? pod.status?.podIP ?? '',
      'status.nominatedNodeName': pod.status?.nominatedNodeName ?? '',
    };
  },
};

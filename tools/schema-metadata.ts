// What upstream's Go struct tags and markers say that the kubernetes-types .d.ts files do not:
// strategic-merge patch keys and strategies (`patchStrategy`, `patchMergeKey`), server-side-apply
// topology (`+listType`, `+listMapKey`, `+mapType`, `+structType=atomic`), and which integers are
// int64. Written by hand from the v1.30 API types; the generator fails if an entry names a field
// of the wrong shape, so a typo here is caught at generation time.

export interface FieldMetadata {
  patchStrategy?: string;
  patchMergeKey?: string;
  listType?: 'atomic' | 'set' | 'map';
  listMapKeys?: readonly string[];
  mapType?: 'atomic' | 'granular';
}

const core = 'io.k8s.api.core.v1.';
const apps = 'io.k8s.api.apps.v1.';
const batch = 'io.k8s.api.batch.v1.';
const as2 = 'io.k8s.api.autoscaling.v2.';
const disc = 'io.k8s.api.discovery.v1.';
const net = 'io.k8s.api.networking.v1.';
const policy = 'io.k8s.api.policy.v1.';
const storage = 'io.k8s.api.storage.v1.';
const meta = 'io.k8s.apimachinery.pkg.apis.meta.v1.';

const atomic: FieldMetadata = { listType: 'atomic' };
const set: FieldMetadata = { listType: 'set' };
const mapBy = (...keys: string[]): FieldMetadata => ({ listType: 'map', listMapKeys: keys });
const mergeBy = (key: string, ...listKeys: string[]): FieldMetadata =>
  ({ patchStrategy: 'merge', patchMergeKey: key, listType: 'map', listMapKeys: listKeys.length ? listKeys : [key] });
const conditions: FieldMetadata = mergeBy('type');
const atomicMap: FieldMetadata = { mapType: 'atomic' };

function fields(prefix: string, entries: Record<string, FieldMetadata>): Record<string, FieldMetadata> {
  const out: Record<string, FieldMetadata> = {};
  for (const [k, v] of Object.entries(entries)) out[prefix + k] = v;
  return out;
}

const containerFields = (kind: string): Record<string, FieldMetadata> => fields(core + kind + '.', {
  args: atomic,
  command: atomic,
  env: mergeBy('name'),
  envFrom: atomic,
  ports: mergeBy('containerPort', 'containerPort', 'protocol'),
  resizePolicy: atomic,
  volumeDevices: mergeBy('devicePath'),
  volumeMounts: mergeBy('mountPath'),
});

/** Keyed by `<component name>.<property>`. */
export const FIELD_METADATA: Record<string, FieldMetadata> = {
  // core/v1: pods and their parts
  ...fields(core + 'PodSpec.', {
    containers: mergeBy('name'),
    ephemeralContainers: mergeBy('name'),
    hostAliases: mergeBy('ip'),
    imagePullSecrets: mergeBy('name'),
    initContainers: mergeBy('name'),
    nodeSelector: atomicMap,
    readinessGates: atomic,
    resourceClaims: { patchStrategy: 'merge,retainKeys', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
    schedulingGates: mergeBy('name'),
    tolerations: atomic,
    topologySpreadConstraints: mergeBy('topologyKey', 'topologyKey', 'whenUnsatisfiable'),
    volumes: { patchStrategy: 'merge,retainKeys', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
  }),
  ...containerFields('Container'),
  ...containerFields('EphemeralContainer'),
  ...fields(core + 'PodStatus.', {
    conditions,
    containerStatuses: atomic,
    ephemeralContainerStatuses: atomic,
    hostIPs: { patchStrategy: 'merge', patchMergeKey: 'ip', listType: 'atomic' },
    initContainerStatuses: atomic,
    podIPs: mergeBy('ip'),
    resourceClaimStatuses: { patchStrategy: 'merge,retainKeys', patchMergeKey: 'name', listType: 'map', listMapKeys: ['name'] },
  }),
  [core + 'ContainerStatus.volumeMounts']: mergeBy('mountPath'),
  [core + 'PodSecurityContext.supplementalGroups']: atomic,
  [core + 'PodSecurityContext.sysctls']: atomic,
  [core + 'Capabilities.add']: atomic,
  [core + 'Capabilities.drop']: atomic,
  [core + 'ResourceRequirements.claims']: mapBy('name'),
  [core + 'ExecAction.command']: atomic,
  [core + 'HTTPGetAction.httpHeaders']: atomic,
  [core + 'HostAlias.hostnames']: atomic,
  [core + 'PodDNSConfig.nameservers']: atomic,
  [core + 'PodDNSConfig.options']: atomic,
  [core + 'PodDNSConfig.searches']: atomic,
  [core + 'NodeAffinity.preferredDuringSchedulingIgnoredDuringExecution']: atomic,
  [core + 'PodAffinity.preferredDuringSchedulingIgnoredDuringExecution']: atomic,
  [core + 'PodAffinity.requiredDuringSchedulingIgnoredDuringExecution']: atomic,
  [core + 'PodAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution']: atomic,
  [core + 'PodAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution']: atomic,
  [core + 'PodAffinityTerm.matchLabelKeys']: atomic,
  [core + 'PodAffinityTerm.mismatchLabelKeys']: atomic,
  [core + 'PodAffinityTerm.namespaces']: atomic,
  [core + 'TopologySpreadConstraint.matchLabelKeys']: atomic,
  [core + 'NodeSelector.nodeSelectorTerms']: atomic,
  [core + 'NodeSelectorTerm.matchExpressions']: atomic,
  [core + 'NodeSelectorTerm.matchFields']: atomic,
  [core + 'NodeSelectorRequirement.values']: atomic,
  [core + 'TopologySelectorTerm.matchLabelExpressions']: atomic,
  [core + 'TopologySelectorLabelRequirement.values']: atomic,
  [core + 'ConfigMapVolumeSource.items']: atomic,
  [core + 'SecretVolumeSource.items']: atomic,
  [core + 'DownwardAPIVolumeSource.items']: atomic,
  [core + 'ConfigMapProjection.items']: atomic,
  [core + 'SecretProjection.items']: atomic,
  [core + 'DownwardAPIProjection.items']: atomic,
  [core + 'ProjectedVolumeSource.sources']: atomic,
  [core + 'CephFSVolumeSource.monitors']: atomic,
  [core + 'CephFSPersistentVolumeSource.monitors']: atomic,
  [core + 'RBDVolumeSource.monitors']: atomic,
  [core + 'RBDPersistentVolumeSource.monitors']: atomic,
  [core + 'FCVolumeSource.targetWWNs']: atomic,
  [core + 'FCVolumeSource.wwids']: atomic,
  [core + 'ISCSIVolumeSource.portals']: atomic,
  [core + 'ISCSIPersistentVolumeSource.portals']: atomic,

  // core/v1: other kinds
  ...fields(core + 'ServiceSpec.', {
    clusterIPs: atomic,
    externalIPs: atomic,
    ipFamilies: atomic,
    loadBalancerSourceRanges: atomic,
    ports: mergeBy('port', 'port', 'protocol'),
    selector: atomicMap,
  }),
  [core + 'ServiceStatus.conditions']: conditions,
  [core + 'LoadBalancerStatus.ingress']: atomic,
  [core + 'LoadBalancerIngress.ports']: atomic,
  [core + 'ReplicationControllerSpec.selector']: atomicMap,
  [core + 'ReplicationControllerStatus.conditions']: conditions,
  [core + 'NodeSpec.podCIDRs']: { patchStrategy: 'merge', listType: 'set' },
  [core + 'NodeSpec.taints']: atomic,
  ...fields(core + 'NodeStatus.', {
    addresses: mergeBy('type'),
    conditions,
    images: atomic,
    runtimeHandlers: atomic,
    volumesAttached: atomic,
    volumesInUse: atomic,
  }),
  [core + 'ContainerImage.names']: atomic,
  [core + 'NamespaceSpec.finalizers']: atomic,
  [core + 'NamespaceStatus.conditions']: conditions,
  [core + 'PersistentVolumeClaimSpec.accessModes']: atomic,
  [core + 'PersistentVolumeClaimStatus.accessModes']: atomic,
  [core + 'PersistentVolumeClaimStatus.conditions']: conditions,
  [core + 'PersistentVolumeSpec.accessModes']: atomic,
  [core + 'PersistentVolumeSpec.mountOptions']: atomic,
  [core + 'Endpoints.subsets']: atomic,
  [core + 'EndpointSubset.addresses']: atomic,
  [core + 'EndpointSubset.notReadyAddresses']: atomic,
  [core + 'EndpointSubset.ports']: atomic,
  [core + 'LimitRangeSpec.limits']: atomic,
  [core + 'ResourceQuotaSpec.scopes']: atomic,
  [core + 'ScopeSelector.matchExpressions']: atomic,
  [core + 'ScopedResourceSelectorRequirement.values']: atomic,
  [core + 'ServiceAccount.secrets']: mergeBy('name'),
  [core + 'ServiceAccount.imagePullSecrets']: atomic,
  [core + 'ComponentStatus.conditions']: mergeBy('type'),

  [core + 'PersistentVolumeClaimStatus.allocatedResourceStatuses']: { mapType: 'granular' },

  // apps/v1
  [apps + 'DeploymentSpec.strategy']: { patchStrategy: 'retainKeys' },
  [apps + 'DeploymentStatus.conditions']: conditions,
  [apps + 'ReplicaSetStatus.conditions']: conditions,
  [apps + 'StatefulSetStatus.conditions']: conditions,
  [apps + 'DaemonSetStatus.conditions']: conditions,
  [apps + 'StatefulSetSpec.volumeClaimTemplates']: atomic,

  // batch/v1
  [batch + 'JobStatus.conditions']: { patchStrategy: 'merge', patchMergeKey: 'type', listType: 'atomic' },
  [batch + 'CronJobStatus.active']: atomic,
  [batch + 'PodFailurePolicy.rules']: atomic,
  [batch + 'PodFailurePolicyRule.onPodConditions']: atomic,
  [batch + 'PodFailurePolicyOnExitCodesRequirement.values']: set,
  [batch + 'SuccessPolicy.rules']: atomic,
  [batch + 'UncountedTerminatedPods.failed']: set,
  [batch + 'UncountedTerminatedPods.succeeded']: set,

  // autoscaling/v2
  [as2 + 'HorizontalPodAutoscalerSpec.metrics']: atomic,
  [as2 + 'HorizontalPodAutoscalerStatus.currentMetrics']: atomic,
  [as2 + 'HorizontalPodAutoscalerStatus.conditions']: conditions,
  [as2 + 'HPAScalingRules.policies']: atomic,

  // discovery/v1
  [disc + 'EndpointSlice.endpoints']: atomic,
  [disc + 'EndpointSlice.ports']: atomic,
  [disc + 'Endpoint.addresses']: set,
  [disc + 'EndpointHints.forZones']: atomic,

  // networking/v1
  [net + 'IngressSpec.rules']: atomic,
  [net + 'IngressSpec.tls']: atomic,
  [net + 'IngressTLS.hosts']: atomic,
  [net + 'HTTPIngressRuleValue.paths']: atomic,
  [net + 'IngressLoadBalancerStatus.ingress']: atomic,
  [net + 'IngressLoadBalancerIngress.ports']: atomic,
  [net + 'NetworkPolicySpec.ingress']: atomic,
  [net + 'NetworkPolicySpec.egress']: atomic,
  [net + 'NetworkPolicySpec.policyTypes']: atomic,
  [net + 'NetworkPolicyIngressRule.ports']: atomic,
  [net + 'NetworkPolicyIngressRule.from']: atomic,
  [net + 'NetworkPolicyEgressRule.ports']: atomic,
  [net + 'NetworkPolicyEgressRule.to']: atomic,
  [net + 'IPBlock.except']: atomic,

  // policy/v1
  [policy + 'PodDisruptionBudgetStatus.conditions']: conditions,
  [policy + 'PodDisruptionBudgetSpec.selector']: { patchStrategy: 'replace' },

  // storage/v1
  [storage + 'StorageClass.mountOptions']: atomic,
  [storage + 'StorageClass.allowedTopologies']: atomic,
  [storage + 'CSIDriverSpec.volumeLifecycleModes']: set,
  [storage + 'CSIDriverSpec.tokenRequests']: atomic,
  [storage + 'CSINodeSpec.drivers']: mergeBy('name'),
  [storage + 'CSINodeDriver.topologyKeys']: atomic,

  // meta/v1
  [meta + 'ObjectMeta.finalizers']: { patchStrategy: 'merge', listType: 'set' },
  [meta + 'ObjectMeta.ownerReferences']: mergeBy('uid'),
  [meta + 'ObjectMeta.managedFields']: atomic,
  [meta + 'LabelSelector.matchExpressions']: atomic,
  [meta + 'LabelSelectorRequirement.values']: atomic,
  [meta + 'StatusDetails.causes']: atomic,
  [meta + 'APIGroup.serverAddressByClientCIDRs']: atomic,
  [meta + 'APIGroup.versions']: atomic,
  [meta + 'APIGroupList.groups']: atomic,
  [meta + 'APIResource.categories']: atomic,
  [meta + 'APIResource.shortNames']: atomic,
  [meta + 'APIResourceList.resources']: atomic,
  [meta + 'APIVersions.serverAddressByClientCIDRs']: atomic,
  [meta + 'APIVersions.versions']: atomic,
  [meta + 'DeleteOptions.dryRun']: atomic,
};

/**
 * Defaults upstream publishes in its schemas that clients rely on: server-side apply fills a
 * missing list-map key from them (a container port without `protocol` is keyed as TCP).
 */
export const FIELD_DEFAULTS: Record<string, unknown> = {
  [core + 'ContainerPort.protocol']: 'TCP',
  [core + 'ServicePort.protocol']: 'TCP',
  [core + 'GRPCAction.service']: '',
  [core + 'LocalObjectReference.name']: '',
};

/** Structs marked `+structType=atomic` upstream: SSA and SMP replace them whole. */
export const STRUCT_ATOMIC = new Set([
  meta + 'LabelSelector',
  meta + 'OwnerReference',
  core + 'ObjectReference',
  core + 'LocalObjectReference',
  core + 'TypedLocalObjectReference',
  core + 'ConfigMapKeySelector',
  core + 'SecretKeySelector',
  core + 'ObjectFieldSelector',
  core + 'ResourceFieldSelector',
  core + 'SecretReference',
  core + 'NodeSelector',
  core + 'NodeSelectorTerm',
  core + 'TopologySelectorTerm',
  core + 'EndpointAddress',
  core + 'EndpointPort',
  core + 'ScopeSelector',
  'io.k8s.api.autoscaling.v1.CrossVersionObjectReference',
  disc + 'EndpointPort',
]);

/** Integer fields upstream declares int64, by property name wherever it occurs (these names are int64 throughout the API). */
export const INT64_PROPERTY_NAMES = new Set([
  'activeDeadlineSeconds',
  'deletionGracePeriodSeconds',
  'expirationSeconds',
  'fsGroup',
  'generation',
  'gracePeriodSeconds',
  'observedGeneration',
  'remainingItemCount',
  'runAsGroup',
  'runAsUser',
  'sizeBytes',
  'startingDeadlineSeconds',
  'supplementalGroups',
  'terminationGracePeriodSeconds',
  'tolerationSeconds',
]);

/** Other int64 fields, by `<component>.<property>`. */
export const INT64_FIELDS = new Set([apps + 'ControllerRevision.revision', core + 'SleepAction.seconds']);

type GVK = { group: string; version: string; kind: string };

/** Group-versions whose DeleteOptions and WatchEvent upstream tags with its own GVK. */
const SERVED_GROUP_VERSIONS: readonly { group: string; version: string }[] = [
  { group: '', version: 'v1' },
  { group: 'apps', version: 'v1' },
  { group: 'autoscaling', version: 'v1' },
  { group: 'autoscaling', version: 'v2' },
  { group: 'batch', version: 'v1' },
  { group: 'coordination.k8s.io', version: 'v1' },
  { group: 'discovery.k8s.io', version: 'v1' },
  { group: 'networking.k8s.io', version: 'v1' },
  { group: 'policy', version: 'v1' },
  { group: 'storage.k8s.io', version: 'v1' },
];

const everyGroup = (kind: string): GVK[] => SERVED_GROUP_VERSIONS.map(gv => ({ ...gv, kind }));

/** meta/v1 kinds whose `kind` is a plain string in the .d.ts, with the GVKs upstream gives them. */
export const META_KINDS: Record<string, GVK[]> = {
  [meta + 'APIGroup']: [{ group: '', version: 'v1', kind: 'APIGroup' }],
  [meta + 'APIGroupList']: [{ group: '', version: 'v1', kind: 'APIGroupList' }],
  [meta + 'APIResourceList']: [{ group: '', version: 'v1', kind: 'APIResourceList' }],
  [meta + 'APIVersions']: [{ group: '', version: 'v1', kind: 'APIVersions' }],
  [meta + 'Status']: [{ group: '', version: 'v1', kind: 'Status' }],
  [meta + 'DeleteOptions']: everyGroup('DeleteOptions'),
  [meta + 'WatchEvent']: everyGroup('WatchEvent'),
};

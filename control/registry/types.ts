// What the generic REST layer needs to know about one resource. The apiserver is one generic
// handler over the store; everything kind-specific (defaulting, validation, the status/spec split,
// table columns, field-selector attributes, scale) lives in one `ResourceDef` per resource, all of
// it pure so it is unit-tested without a server.
import type { FieldError } from '../../api/errors.js';
import type { KubeObject } from '../../api/object.js';

/** meta.k8s.io/v1 TableColumnDefinition (not in kubernetes-types). */
export interface TableColumnDefinition {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  format: string;
  description: string;
  priority: number;
}

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export type Subresource = 'status' | 'scale' | 'binding' | 'eviction' | 'log' | 'exec' | 'proxy' | 'attach' | 'portforward' | 'ephemeralcontainers' | 'finalize';

/** Facts from the server's configuration that defaulting and validation need. */
export interface RegistryContext {
  serviceCIDR: string;   // e.g. 10.43.0.0/16
  clusterCIDR: string;   // e.g. 10.42.0.0/16
  nodePortRange: { min: number; max: number };
  now(): Date;
  /**
   * kube-apiserver's --default-not-ready-toleration-seconds and
   * --default-unreachable-toleration-seconds (DefaultTolerationSeconds admission); 300 s each when absent.
   */
  defaultTolerationSeconds?: { notReady: number; unreachable: number };
}

export interface ScaleMapping {
  /** Dotted paths into the object. */
  specReplicas: string;
  statusReplicas: string;
  /** Path of a LabelSelector object (apps) or a plain map selector (ReplicationController). */
  selector: string;
  selectorIsMap?: boolean;
}

/**
 * A version served by converting to and from the version that is stored (upstream's storage
 * version): objects are kept once, in `storedVersion`, and every read and write of this version
 * converts at the storage boundary, so all versions see one object and one resourceVersion.
 */
export interface VersionConversion {
  storedVersion: string;
  toStored(obj: KubeObject): KubeObject;
  fromStored(obj: KubeObject): KubeObject;
}

export interface ResourceDef {
  group: string;        // '' for core
  version: string;
  kind: string;
  listKind: string;
  resource: string;     // plural, e.g. 'deployments'
  singularName: string; // e.g. 'deployment'
  shortNames?: string[];
  categories?: string[];
  namespaced: boolean;
  verbs: Verb[];
  subresources: Subresource[];
  /** OpenAPI component name of the kind's schema, e.g. 'io.k8s.api.apps.v1.Deployment'. */
  schemaName: string;

  /** Has a `/status` subresource: the main resource ignores status changes and `/status` ignores everything else. */
  hasStatusSubresource: boolean;
  /** `metadata.generation` is bumped when anything but metadata and status changes. */
  tracksGeneration: boolean;

  /** Fill defaults in place, as upstream's defaulters do (run on create and update, before validation). */
  applyDefaults?(obj: KubeObject, ctx: RegistryContext): void;
  /** Resets fields a client may not set on create (e.g. status for most kinds). */
  prepareForCreate?(obj: KubeObject, ctx?: RegistryContext): void;
  /** Carries over what an update may not change (e.g. status via the main resource). */
  prepareForUpdate?(obj: KubeObject, old: KubeObject): void;
  /** Every field error of the object (metadata included), as upstream's ValidateX. */
  validate(obj: KubeObject, ctx: RegistryContext): FieldError[];
  /** Every field error of an update: validate() plus immutability and transition rules. */
  validateUpdate(obj: KubeObject, old: KubeObject, ctx: RegistryContext): FieldError[];
  /** Validation of a `/status` update (defaults to validateUpdate). */
  validateStatusUpdate?(obj: KubeObject, old: KubeObject, ctx: RegistryContext): FieldError[];

  /** Columns of `kubectl get` (upstream's printers), excluding NAME/AGE handling which rows include. */
  tableColumns: TableColumnDefinition[];
  /** One cell per column, for one object (now: for AGE and durations). */
  tableRow(obj: KubeObject, now: Date): unknown[];
  /** Field-selector attributes (metadata.name and metadata.namespace are added by the caller). */
  fieldSelectorAttributes?(obj: KubeObject): Record<string, string>;

  scale?: ScaleMapping;

  /** Set when this version is served by conversion from another stored version. */
  conversion?: VersionConversion;
}

// The runtime form of our API schemas: OpenAPI v3 component schemas with upstream's
// `x-kubernetes-*` extensions. One format serves `/openapi/v3`, `kubectl explain`, strict field
// validation, strategic merge patch (merge keys) and server-side apply (list types).

export interface OpenAPISchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  description?: string;
  properties?: Record<string, OpenAPISchema>;
  required?: string[];
  items?: OpenAPISchema;
  additionalProperties?: OpenAPISchema | boolean;
  $ref?: string; // '#/components/schemas/io.k8s.api.core.v1.PodSpec'
  allOf?: OpenAPISchema[];
  /** Only for IntOrString and Quantity, as upstream's v3 documents spell them. */
  oneOf?: OpenAPISchema[];
  enum?: unknown[];
  default?: unknown;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-patch-merge-key'?: string;
  'x-kubernetes-patch-strategy'?: string; // 'merge', 'retainKeys', 'merge,retainKeys', 'replace'
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-group-version-kind'?: { group: string; version: string; kind: string }[];
  'x-kubernetes-unions'?: unknown[];
}

/** The named component schemas, with reference resolution. */
export interface SchemaSet {
  /** A component by its name, e.g. 'io.k8s.api.core.v1.Pod'. */
  get(name: string): OpenAPISchema | undefined;
  /** Follows `$ref` (and a single-element `allOf: [{$ref}]`) to the schema it names; other schemas come back as they are. */
  resolve(schema: OpenAPISchema): OpenAPISchema;
}

import { refOf, schemas } from '../schema/index.js';
import type { OpenAPISchema } from '../schema/types.js';
import { FIELDS_V1, INT_OR_STRING, MICRO_TIME, QUANTITY, RAW_EXTENSION, TIME } from './decode.js';
import { BYTES, FIELDS, KEEP_ZERO } from './fields.js';

// The kinds kubectl sends (or may send) as protobuf, and what the apiserver must decode from it.
const KINDS = [
  'io.k8s.api.core.v1.Namespace', 'io.k8s.api.core.v1.ConfigMap', 'io.k8s.api.core.v1.Secret',
  'io.k8s.api.core.v1.ServiceAccount', 'io.k8s.api.core.v1.Service', 'io.k8s.api.core.v1.Pod',
  'io.k8s.api.core.v1.Endpoints', 'io.k8s.api.core.v1.Node', 'io.k8s.api.core.v1.Event', 'io.k8s.api.core.v1.Binding',
  'io.k8s.api.apps.v1.Deployment', 'io.k8s.api.apps.v1.ReplicaSet', 'io.k8s.api.apps.v1.StatefulSet',
  'io.k8s.api.apps.v1.DaemonSet', 'io.k8s.api.batch.v1.Job', 'io.k8s.api.batch.v1.CronJob',
  'io.k8s.api.policy.v1.Eviction', 'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions',
  'io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector', 'io.k8s.api.autoscaling.v1.Scale',
  'io.k8s.api.authorization.v1.SelfSubjectAccessReview', 'io.k8s.api.authentication.v1.SelfSubjectReview',
];
const SPECIAL = new Set([TIME, MICRO_TIME, QUANTITY, INT_OR_STRING, RAW_EXTENSION, FIELDS_V1]);

/** Every component reachable from `roots` through properties, items and map values. */
function reachable(roots: string[]): Set<string> {
  const seen = new Set<string>();
  const visit = (schema: OpenAPISchema | boolean | undefined): void => {
    if (typeof schema !== 'object') return;
    const ref = refOf(schema);
    if (ref !== undefined) {
      if (seen.has(ref) || SPECIAL.has(ref)) return;
      seen.add(ref);
      schema = schemas.resolve(schema);
    }
    for (const p of Object.values(schema.properties ?? {})) visit(p);
    visit(schema.items);
    visit(schema.additionalProperties);
  };
  for (const r of roots) visit({ $ref: `#/components/schemas/${r}` });
  return seen;
}

/** JSON names a message's table covers, through inlined messages too. */
function covered(message: string): Set<string> {
  const names = new Set<string>();
  for (const name of Object.values(FIELDS[message] ?? {})) {
    if (name.startsWith('...')) for (const n of covered(name.slice(3))) names.add(n);
    else names.add(name);
  }
  return names;
}

describe('protobuf field table', () => {
  const components = [...reachable(KINDS)].sort();

  it('reaches the messages of every listed kind', () => {
    expect(components.length).toBeGreaterThan(150);
    expect(components).toEqual(expect.arrayContaining(['io.k8s.api.core.v1.PodSpec', 'io.k8s.api.core.v1.ProjectedVolumeSource', 'io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry']));
  });

  it('numbers every property reachable from the listed kinds', () => {
    const missing: string[] = [];
    for (const c of components) {
      const schema = schemas.get(c)!;
      const have = covered(c);
      // apiVersion/kind of a kind are runtime.Unknown's typeMeta, not fields of the message.
      const isKind = (schema['x-kubernetes-group-version-kind'] ?? []).length > 0;
      for (const p of Object.keys(schema.properties ?? {})) {
        if (isKind && (p === 'apiVersion' || p === 'kind')) continue;
        if (!have.has(p)) missing.push(`${c}.${p}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('numbers every property of every component we serve (version.Info is never protobuf)', () => {
    const missing: string[] = [];
    for (const c of schemas.names()) {
      const schema = schemas.get(c)!;
      if (schema.properties === undefined || c === 'io.k8s.apimachinery.pkg.version.Info') continue;
      if (FIELDS[c] === undefined) {
        missing.push(`${c} (no table)`);
        continue;
      }
      const isKind = (schema['x-kubernetes-group-version-kind'] ?? []).length > 0;
      const have = covered(c);
      for (const p of Object.keys(schema.properties)) {
        if (!(isKind && (p === 'apiVersion' || p === 'kind')) && !have.has(p)) missing.push(`${c}.${p}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('names only properties the schema has, and inlines only known messages', () => {
    const wrong: string[] = [];
    const check = (message: string, props: Record<string, OpenAPISchema>): void => {
      for (const [num, name] of Object.entries(FIELDS[message] ?? {})) {
        if (!name.startsWith('...')) {
          if (!Object.hasOwn(props, name)) wrong.push(`${message} ${num}=${name}`);
        } else if (FIELDS[name.slice(3)] === undefined) wrong.push(`${message} ${num}=${name}`);
        else check(name.slice(3), props);
      }
    };
    // Inlined messages without a component of their own are checked through their outer one.
    for (const c of Object.keys(FIELDS)) if (schemas.get(c)) check(c, schemas.get(c)!.properties ?? {});
    expect(wrong).toEqual([]);
  });

  it('uses each field number once per message (a table is a map, so check names instead)', () => {
    const dup: string[] = [];
    for (const [c, table] of Object.entries(FIELDS)) {
      const names = Object.values(table).filter(n => !n.startsWith('...'));
      if (new Set(names).size !== names.length) dup.push(c);
    }
    expect(dup).toEqual([]);
  });

  it('knows the well-known numbers', () => {
    expect(FIELDS['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta']).toMatchObject({ 1: 'name', 3: 'namespace', 8: 'creationTimestamp', 11: 'labels', 12: 'annotations', 13: 'ownerReferences', 17: 'managedFields' });
    expect(FIELDS['io.k8s.api.core.v1.Volume']).toEqual({ 1: 'name', 2: '...io.k8s.api.core.v1.VolumeSource' });
    expect(FIELDS['io.k8s.api.policy.v1.Eviction']).toEqual({ 1: 'metadata', 2: 'deleteOptions' });
    expect(BYTES).toEqual(new Set(['io.k8s.api.core.v1.ConfigMap.binaryData', 'io.k8s.api.core.v1.Secret.data']));
    expect(KEEP_ZERO.has('io.k8s.api.apps.v1.DeploymentSpec.replicas')).toBe(true);
    expect(KEEP_ZERO.has('io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions.gracePeriodSeconds')).toBe(true);
    expect(KEEP_ZERO.has('io.k8s.api.apps.v1.DeploymentSpec.minReadySeconds')).toBe(false);
  });
});

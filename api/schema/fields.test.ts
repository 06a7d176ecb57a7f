import { checkFields, createFieldChecker, duplicateFieldMessage, findDuplicateFields, strictDecodingErrorMessage, unknownFieldMessage } from './fields.js';
import { schemas } from './index.js';

const deployment = (spec: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', labels: { app: 'web' }, annotations: { 'x/y': 'z' } },
  spec,
  ...extra,
});

const goodSpec = () => ({
  replicas: 2,
  selector: { matchLabels: { app: 'web' } },
  strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 1 } },
  template: {
    metadata: { labels: { app: 'web' } },
    spec: {
      containers: [{
        name: 'web', image: 'nginx',
        ports: [{ containerPort: 80, protocol: 'TCP' }],
        env: [{ name: 'A', value: 'b' }],
        resources: { limits: { cpu: '500m', memory: 1024 }, requests: { cpu: 0.5 } },
      }],
      nodeSelector: { disk: 'ssd' },
    },
  },
});

describe('checkFields', () => {
  test('accepts a valid Deployment', () => {
    expect(checkFields(deployment(goodSpec()), 'io.k8s.api.apps.v1.Deployment', schemas)).toEqual({ unknown: [], typeErrors: [] });
  });

  test('reports unknown fields at decoder-style paths', () => {
    const spec = goodSpec();
    (spec.template.spec.containers[0] as Record<string, unknown>)['imagee'] = 'typo';
    (spec as Record<string, unknown>)['replica'] = 3;
    const result = checkFields(deployment(spec, { extra: true }), 'io.k8s.api.apps.v1.Deployment', schemas);
    expect(result.unknown).toEqual(['spec.template.spec.containers[0].imagee', 'spec.replica', 'extra']);
    expect(result.typeErrors).toEqual([]);
    expect(unknownFieldMessage(result.unknown[0]!)).toBe('unknown field "spec.template.spec.containers[0].imagee"');
  });

  test('allows any key in maps (additionalProperties) and checks their values', () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { labels: { a: 'b', 'c/d': 'e' } }, spec: { containers: [{ name: 'c' }], nodeSelector: { x: 1 } } };
    const result = checkFields(pod, 'io.k8s.api.core.v1.Pod', schemas);
    expect(result.unknown).toEqual([]);
    expect(result.typeErrors.map(e => e.field)).toEqual(['spec.nodeSelector[x]']);
  });

  test('does not look inside preserve-unknown-fields objects (RawExtension, FieldsV1)', () => {
    const rev = { apiVersion: 'apps/v1', kind: 'ControllerRevision', revision: 1, data: { anything: { goes: [1] } } };
    expect(checkFields(rev, 'io.k8s.api.apps.v1.ControllerRevision', schemas).unknown).toEqual([]);
    const withManaged = deployment(goodSpec());
    (withManaged.metadata as Record<string, unknown>)['managedFields'] = [{ manager: 'kubectl', operation: 'Apply', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:replicas': {} } } }];
    expect(checkFields(withManaged, 'io.k8s.api.apps.v1.Deployment', schemas)).toEqual({ unknown: [], typeErrors: [] });
  });

  test('int-or-string accepts integers and strings but not fractions or booleans', () => {
    const spec = goodSpec();
    spec.strategy.rollingUpdate = { maxSurge: 1.5 as unknown as string, maxUnavailable: true as unknown as number };
    const errors = checkFields(deployment(spec), 'io.k8s.api.apps.v1.Deployment', schemas).typeErrors;
    expect(errors.map(e => [e.field, e.detail])).toEqual([
      ['spec.strategy.rollingUpdate.maxSurge', 'must be of type integer or string, got number'],
      ['spec.strategy.rollingUpdate.maxUnavailable', 'must be of type integer or string, got boolean'],
    ]);
  });

  test('Quantity accepts strings and any number', () => {
    const spec = goodSpec();
    (spec.template.spec.containers[0] as Record<string, unknown>)['resources'] = { limits: { cpu: 1.5, memory: '1Gi' }, requests: { cpu: [] } };
    const errors = checkFields(deployment(spec), 'io.k8s.api.apps.v1.Deployment', schemas).typeErrors;
    expect(errors.map(e => e.field)).toEqual(['spec.template.spec.containers[0].resources.requests[cpu]']);
  });

  test('reports wrong JSON types with FieldErrors', () => {
    const spec = goodSpec() as Record<string, unknown>;
    spec['replicas'] = '3';
    spec['paused'] = 'yes';
    spec['minReadySeconds'] = 1.5;
    (spec['template'] as { spec: Record<string, unknown> }).spec['containers'] = { name: 'x' };
    const errors = checkFields(deployment(spec), 'io.k8s.api.apps.v1.Deployment', schemas).typeErrors;
    expect(errors.map(e => e.message())).toEqual([
      'spec.replicas: Invalid value: "3": must be of type integer, got string',
      'spec.template.spec.containers: Invalid value: {"name":"x"}: must be of type array, got object',
      'spec.paused: Invalid value: "yes": must be of type boolean, got string',
      'spec.minReadySeconds: Invalid value: 1.5: must be of type integer, got number',
    ]);
    expect(errors[0]!.type).toBe('FieldValueTypeInvalid');
  });

  test('null is accepted anywhere, as typed decoding takes it for the zero value', () => {
    expect(checkFields(deployment({ replicas: null, selector: null, template: null }), 'io.k8s.api.apps.v1.Deployment', schemas)).toEqual({ unknown: [], typeErrors: [] });
  });

  test('throws for an unknown schema name', () => {
    expect(() => checkFields({}, 'io.k8s.api.apps.v1.Nope', schemas)).toThrow('Unknown schema "io.k8s.api.apps.v1.Nope"');
  });
});

describe('findDuplicateFields', () => {
  test('reports repeated keys with their paths', () => {
    const text = '{"kind":"Deployment","spec":{"replicas":1,"replicas":2,"template":{"spec":{"containers":[{"name":"a"},{"name":"b","name":"c"}]}}},"kind":"X"}';
    expect(findDuplicateFields(text)).toEqual(['spec.replicas', 'spec.template.spec.containers[1].name', 'kind']);
    expect(duplicateFieldMessage('spec.replicas')).toBe('duplicate field "spec.replicas"');
  });

  test('compares decoded keys, so escapes are the same key', () => {
    expect(findDuplicateFields('{"a":1,"\\u0061":2}')).toEqual(['a']);
  });

  test('ignores same keys in different objects, and strings that look like JSON', () => {
    expect(findDuplicateFields('{"a":{"x":1},"b":{"x":"{\\"x\\":1,\\"x\\":2}"},"c":[{"x":1},{"x":2}]}')).toEqual([]);
    expect(findDuplicateFields(' [ 1 , true , null , "s" , { } , [ ] ] ')).toEqual([]);
  });

  test('returns what it found before invalid JSON', () => {
    expect(findDuplicateFields('{"a":1,"a":2,')).toEqual(['a']);
    expect(findDuplicateFields('')).toEqual([]);
  });
});

test('strictDecodingErrorMessage renders upstream\'s 400 text', () => {
  expect(strictDecodingErrorMessage('Deployment', 'v1', ['spec.replicas'], ['spec.foo'])).toBe(
    'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: duplicate field "spec.replicas", unknown field "spec.foo"');
});

test('createFieldChecker combines the schema walk with the duplicate scan of the raw body', () => {
  const checker = createFieldChecker(schemas);
  const raw = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","name":"b"},"dataa":{}}';
  const result = checker.check(JSON.parse(raw), { schemaName: 'io.k8s.api.core.v1.ConfigMap' }, raw);
  expect(result).toEqual({ unknown: ['dataa'], typeErrors: [], duplicates: ['metadata.name'] });
  expect(checker.check({}, { schemaName: 'io.k8s.api.core.v1.ConfigMap' }, undefined).duplicates).toEqual([]);
});

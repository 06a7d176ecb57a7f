import { loadSchemaSet, refOf, schemaNameFor, schemas } from './index.js';

describe('schemas', () => {
  test('schemaNameFor finds a kind by group, version and kind', () => {
    expect(schemaNameFor('apps', 'v1', 'Deployment')).toBe('io.k8s.api.apps.v1.Deployment');
    expect(schemaNameFor('', 'v1', 'Pod')).toBe('io.k8s.api.core.v1.Pod');
    expect(schemaNameFor('autoscaling', 'v1', 'Scale')).toBe('io.k8s.api.autoscaling.v1.Scale');
    expect(schemaNameFor('autoscaling', 'v2', 'HorizontalPodAutoscaler')).toBe('io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler');
    expect(schemaNameFor('apps', 'v1', 'Pod')).toBeUndefined();
  });

  test('resolve follows $ref and single-element allOf, and leaves other schemas alone', () => {
    const deployment = schemas.get('io.k8s.api.apps.v1.Deployment')!;
    const spec = schemas.resolve(deployment.properties!['spec']!);
    expect(spec).toBe(schemas.get('io.k8s.api.apps.v1.DeploymentSpec'));
    const items = schemas.get('io.k8s.api.core.v1.PodSpec')!.properties!['containers']!.items!;
    expect(schemas.resolve(items)).toBe(schemas.get('io.k8s.api.core.v1.Container'));
    const str = { type: 'string' as const };
    expect(schemas.resolve(str)).toBe(str);
  });

  test('resolve rejects a dangling reference', () => {
    const set = loadSchemaSet({ A: { $ref: '#/components/schemas/B' } });
    expect(() => set.resolve({ $ref: '#/components/schemas/A' })).toThrow('Unknown schema reference "B"');
  });

  test('refOf reads either form', () => {
    expect(refOf({ $ref: '#/components/schemas/X' })).toBe('X');
    expect(refOf({ allOf: [{ $ref: '#/components/schemas/Y' }], description: 'd' })).toBe('Y');
    expect(refOf({ type: 'string' })).toBeUndefined();
  });

  test('get does not leak Object.prototype members', () => {
    expect(schemas.get('constructor')).toBeUndefined();
    expect(schemas.names().length).toBeGreaterThan(300);
  });
});

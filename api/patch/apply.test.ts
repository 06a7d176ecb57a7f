import { StatusError } from '../errors.js';
import type { KubeObject } from '../object.js';
import { applyPatch, lastAppliedAnnotation } from './apply.js';
import { keyElement } from './field-set.js';
import { DEPLOYMENT, fixtureSchemas } from './fixtures.js';
import { decodeManagedFields, updateManagedFields, type ManagedFieldsEntry } from './managed-fields.js';
import { catchStatusError } from '../testing/status.js';

const T0 = new Date('2026-01-01T00:00:00Z');
const T1 = new Date('2026-01-01T00:05:00Z');
const T2 = new Date('2026-01-01T00:10:00Z');

interface Container { name: string; image?: string; ports?: { containerPort: number; protocol?: string }[]; env?: { name: string; value?: string }[] }
interface Dep extends KubeObject {
  spec: { replicas?: number; paused?: boolean; selector?: unknown; template: { metadata?: { labels?: Record<string, string> }; spec: { containers: Container[]; tolerations?: unknown[] } } };
}

function config(opts: { image?: string; replicas?: number; containers?: Container[]; labels?: Record<string, string> } = {}): Dep {
  const c: Dep = {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name: 'web', labels: opts.labels ?? { app: 'web' } },
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: opts.containers ?? [{ name: 'nginx', image: opts.image ?? 'nginx:1.24' }] },
      },
    },
  };
  if (opts.replicas !== undefined) c.spec.replicas = opts.replicas;
  return c;
}

const apply = (live: KubeObject | undefined, cfg: KubeObject, manager = 'kubectl', force = false, now = T0) =>
  applyPatch(live, cfg, manager, force, fixtureSchemas, DEPLOYMENT, now) as Dep;

const update = (old: KubeObject | undefined, next: KubeObject, manager: string, now = T0) =>
  updateManagedFields(old, next, { manager, apiVersion: 'apps/v1', now, schemas: fixtureSchemas, root: DEPLOYMENT }) as Dep;

const managers = (o: KubeObject) => ((o.metadata?.managedFields ?? []) as ManagedFieldsEntry[]).map(e => `${e.manager}/${e.operation}`);
const IMAGE = ['f:spec', 'f:template', 'f:spec', 'f:containers', keyElement({ name: 'nginx' }), 'f:image'];

describe('applyPatch: creating', () => {
  it('creates the object with one Apply entry for the applier', () => {
    const out = apply(undefined, config({ replicas: 2 }));
    expect(out.spec.replicas).toBe(2);
    expect(out.metadata!.managedFields).toEqual([{
      manager: 'kubectl', operation: 'Apply', apiVersion: 'apps/v1', time: '2026-01-01T00:00:00Z', fieldsType: 'FieldsV1',
      fieldsV1: {
        'f:metadata': { 'f:labels': { 'f:app': {} } },
        'f:spec': {
          'f:replicas': {}, 'f:selector': {},
          'f:template': {
            'f:metadata': { 'f:labels': { 'f:app': {} } },
            'f:spec': { 'f:containers': { 'k:{"name":"nginx"}': { '.': {}, 'f:image': {}, 'f:name': {} } } },
          },
        },
      },
    }]);
  });

  it('refuses a configuration that carries managedFields', () => {
    const cfg = config();
    cfg.metadata!.managedFields = [];
    expect(catchStatusError(() => apply(undefined, cfg)).code).toBe(400);
  });
});

describe('applyPatch: conflicts', () => {
  const csaCreated = () => update(undefined, { ...config({ replicas: 1 }), metadata: { name: 'web', labels: { app: 'web' } } }, 'kubectl-client-side-apply');

  it('fails with 409 when changing a field another manager set, in upstream\'s words', () => {
    const e = catchStatusError(() => apply(csaCreated(), config({ replicas: 3 }), 'my-applier'));
    expect(e.code).toBe(409);
    expect(e.reason).toBe('Conflict');
    expect(e.message).toBe('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas');
    expect(e.details?.causes).toEqual([{ reason: 'FieldManagerConflict', message: 'conflict with "kubectl-client-side-apply" using apps/v1', field: '.spec.replicas' }]);
  });

  it('lists several conflicts grouped by manager', () => {
    let live = csaCreated();
    live = update(live, { ...live, spec: { ...live.spec, paused: true } }, 'kubectl-edit', T1);
    const cfg = config({ replicas: 3, image: 'nginx:1.25' });
    cfg.spec.paused = false;
    const e = catchStatusError(() => apply(live, cfg, 'my-applier'));
    expect(e.message).toBe([
      'Apply failed with 3 conflicts: conflicts with "kubectl-client-side-apply" using apps/v1:',
      '- .spec.replicas',
      '- .spec.template.spec.containers[name="nginx"].image',
      'conflicts with "kubectl-edit" using apps/v1:',
      '- .spec.paused',
    ].join('\n'));
    expect(e.details?.causes?.map(c => c.field)).toEqual(['.spec.replicas', '.spec.template.spec.containers[name="nginx"].image', '.spec.paused']);
  });

  it('does not conflict when the applied value equals the live one, and shares the field', () => {
    const out = apply(csaCreated(), config({ replicas: 1 }), 'my-applier');
    const m = [...decodeManagedFields(out.metadata!.managedFields).values()];
    expect(m.map(x => x.manager)).toEqual(['my-applier', 'kubectl-client-side-apply']);
    expect(m.every(x => x.fields.has(['f:spec', 'f:replicas']))).toBe(true);
  });

  it('takes the fields over with force', () => {
    const out = apply(csaCreated(), config({ replicas: 3 }), 'my-applier', true);
    expect(out.spec.replicas).toBe(3);
    const m = decodeManagedFields(out.metadata!.managedFields);
    const csa = [...m.values()].find(x => x.manager === 'kubectl-client-side-apply')!;
    const me = [...m.values()].find(x => x.manager === 'my-applier')!;
    expect(csa.fields.has(['f:spec', 'f:replicas'])).toBe(false);
    expect(me.fields.has(['f:spec', 'f:replicas'])).toBe(true);
  });

  it('conflicts with an updater that changed a field after the apply, e.g. kubectl edit', () => {
    const applied = apply(undefined, config());
    const edited = update(applied, { ...applied, spec: { ...applied.spec, template: { ...applied.spec.template, spec: { containers: [{ name: 'nginx', image: 'nginx:edited' }] } } } }, 'kubectl-edit', T1);
    expect(decodeManagedFields(edited.metadata!.managedFields).get(JSON.stringify(['kubectl', 'Apply', '', '']))!.fields.has(IMAGE)).toBe(false);
    const e = catchStatusError(() => apply(edited, config({ image: 'nginx:1.25' }), 'kubectl', false, T2));
    expect(e.message).toBe('Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.template.spec.containers[name="nginx"].image');
  });

  it('lets two appliers of the same value co-own, and a third value conflict with both', () => {
    const a = apply(undefined, config({ replicas: 2 }), 'a');
    const b = apply(a, config({ replicas: 2 }), 'b');
    const e = catchStatusError(() => apply(b, config({ replicas: 5 }), 'c'));
    expect(e.details?.causes?.map(c => c.message)).toEqual(['conflict with "a"', 'conflict with "b"']);
  });
});

describe('applyPatch: merging and pruning', () => {
  it('keeps fields the applier never stated', () => {
    const live = update(undefined, { ...config(), metadata: { name: 'web', labels: { app: 'web', team: 'x' } } }, 'creator');
    const out = apply(live, config({ image: 'nginx:1.25' }), 'a', true);
    expect(out.metadata!.labels).toEqual({ app: 'web', team: 'x' });
    expect(out.spec.template.spec.containers).toEqual([{ name: 'nginx', image: 'nginx:1.25' }]);
  });

  it('removes a field the applier stops stating when nobody else owns it', () => {
    const first = apply(undefined, config({ replicas: 2, labels: { app: 'web', tier: 'front' } }));
    const second = apply(first, config({ labels: { app: 'web' } }), 'kubectl', false, T1);
    expect(second.metadata!.labels).toEqual({ app: 'web' });
    expect(second.spec.replicas).toBeUndefined();
  });

  it('keeps metadata when the applier stops stating every label', () => {
    const first = apply(undefined, config({ labels: { app: 'web' } }));
    const cfg = config();
    delete cfg.metadata!.labels;
    const out = apply({ ...first, metadata: { ...first.metadata!, uid: 'u1', resourceVersion: '7' } }, cfg, 'kubectl', false, T1);
    expect(out.metadata).toMatchObject({ name: 'web', uid: 'u1', resourceVersion: '7' });
    expect(out.metadata!.labels).toBeUndefined();
  });

  it('removes a container the applier stops stating, even if another manager changed its image', () => {
    const first = apply(undefined, config({ containers: [{ name: 'a', image: 'a' }, { name: 'b', image: 'b' }] }));
    const edited = update(first, { ...first, spec: { ...first.spec, template: { ...first.spec.template, spec: { containers: [{ name: 'a', image: 'a' }, { name: 'b', image: 'b2' }] } } } }, 'kubectl-edit', T1);
    const out = apply(edited, config({ containers: [{ name: 'a', image: 'a' }] }), 'kubectl', false, T2);
    expect(out.spec.template.spec.containers).toEqual([{ name: 'a', image: 'a' }]);
    expect(managers(out)).toEqual(['kubectl/Apply']);
  });

  it('keeps a dropped field that another manager also owns', () => {
    const first = apply(undefined, config({ replicas: 2 }), 'a');
    const shared = apply(first, config({ replicas: 2 }), 'b');
    const out = apply(shared, config(), 'a', false, T1);
    expect(out.spec.replicas).toBe(2);
    expect([...decodeManagedFields(out.metadata!.managedFields).values()].find(m => m.manager === 'a')!.fields.has(['f:spec', 'f:replicas'])).toBe(false);
  });

  it('adds and removes containers by name, keeping live order and appending new ones', () => {
    const first = apply(undefined, config({ containers: [{ name: 'a', image: 'a' }, { name: 'b', image: 'b' }] }));
    const out = apply(first, config({ containers: [{ name: 'c', image: 'c' }, { name: 'a', image: 'a2' }] }), 'kubectl', false, T1);
    expect(out.spec.template.spec.containers).toEqual([{ name: 'a', image: 'a2' }, { name: 'c', image: 'c' }]);
  });

  it('merges ports by containerPort and protocol, defaulting the protocol', () => {
    const first = apply(undefined, config({ containers: [{ name: 'a', ports: [{ containerPort: 80 }] }] }));
    const out = apply(first, config({ containers: [{ name: 'a', ports: [{ containerPort: 80, protocol: 'TCP' }, { containerPort: 53, protocol: 'UDP' }] }] }), 'kubectl', false, T1);
    expect(out.spec.template.spec.containers[0]!.ports).toEqual([{ containerPort: 80, protocol: 'TCP' }, { containerPort: 53, protocol: 'UDP' }]);
  });

  it('merges a set list (finalizers) and replaces an atomic one (tolerations)', () => {
    const live = update(undefined, { ...config(), metadata: { name: 'web', finalizers: ['x'] } }, 'controller');
    const cfg = config();
    cfg.metadata!.finalizers = ['y'];
    cfg.spec.template.spec.tolerations = [{ key: 'b' }];
    const withTol = { ...live, spec: { ...live.spec, template: { ...live.spec.template, spec: { ...live.spec.template.spec, tolerations: [{ key: 'a' }] } } } };
    const out = apply(withTol, cfg, 'kubectl', true, T1);
    expect(out.metadata!.finalizers).toEqual(['x', 'y']);
    expect(out.spec.template.spec.tolerations).toEqual([{ key: 'b' }]);
  });

  it('deletes a field applied as null', () => {
    const first = apply(undefined, config({ replicas: 2 }));
    const cfg = config() as KubeObject & { spec: Record<string, unknown> };
    cfg.spec.replicas = null;
    expect(apply(first, cfg, 'kubectl', false, T1).spec.replicas).toBeUndefined();
  });

  it('keeps the entry time when an apply changes nothing', () => {
    const first = apply(undefined, config());
    const again = apply(first, config(), 'kubectl', false, T1);
    expect(again).toEqual(first);
  });
});

describe('applyPatch: objects never applied before', () => {
  it('records existing fields under before-first-apply', () => {
    const live = { ...config({ replicas: 1 }), metadata: { name: 'web', labels: { app: 'web' } } };
    const e = catchStatusError(() => apply(live, config({ replicas: 4 }), 'a'));
    expect(e.message).toBe('Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: .spec.replicas');
    const out = apply(live, config({ replicas: 1 }), 'a');
    expect(managers(out)).toEqual(['a/Apply', 'before-first-apply/Update']);
  });
});

describe('applyPatch: migrating from client-side apply (manager "kubectl")', () => {
  function csaObject(replicas: number): Dep {
    const cfg = config({ replicas });
    const annotated = { ...cfg, metadata: { ...cfg.metadata, annotations: { [lastAppliedAnnotation]: JSON.stringify(cfg) } } };
    return update(undefined, annotated, 'kubectl-client-side-apply');
  }

  it('takes over fields still equal to the last-applied configuration', () => {
    const out = apply(csaObject(1), config({ replicas: 3 }), 'kubectl', false, T1);
    expect(out.spec.replicas).toBe(3);
    const csa = [...decodeManagedFields(out.metadata!.managedFields).values()].find(m => m.manager === 'kubectl-client-side-apply');
    expect(csa?.fields.has(['f:spec', 'f:replicas'])).toBeFalsy();
    const annotation = out.metadata!.annotations![lastAppliedAnnotation]!;
    expect(JSON.parse(annotation)).toEqual(config({ replicas: 3 }));
    expect(annotation.startsWith('{"apiVersion":"apps/v1","kind":"Deployment","metadata":{')).toBe(true);
    expect(annotation.endsWith('}\n')).toBe(true);
  });

  it('still conflicts on fields changed since the last client-side apply', () => {
    const live = csaObject(1);
    const edited = update(live, { ...live, spec: { ...live.spec, replicas: 7 } }, 'kubectl-client-side-apply', T1);
    expect(() => apply(edited, config({ replicas: 3 }), 'kubectl', false, T2)).toThrow('Apply failed with 1 conflict');
  });

  it('does not migrate for other managers', () => {
    expect(() => apply(csaObject(1), config({ replicas: 3 }), 'other', false, T1)).toThrow(StatusError);
  });
});

describe('applyPatch: invalid configurations', () => {
  it('fails like upstream on duplicate keys', () => {
    const e = catchStatusError(() => apply(undefined, config({ containers: [{ name: 'a' }, { name: 'a' }] })));
    expect(e.code).toBe(500);
    expect(e.message).toBe('failed to create typed patch object (apps/v1, Kind=Deployment): .spec.template.spec.containers: duplicate entries for key [name="a"]');
  });
});

describe('applyPatch: atomic maps', () => {
  it('replaces an atomic map whole and owns it as one field', () => {
    const pod = (sel: Record<string, string>) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'i' }], nodeSelector: sel } });
    const first = applyPatch(undefined, pod({ zone: 'a', disk: 'ssd' }), 'a', false, fixtureSchemas, 'core.Pod', T0) as KubeObject & { spec: { nodeSelector: unknown } };
    expect(decodeManagedFields(first.metadata!.managedFields).values().next().value!.fields.has(['f:spec', 'f:nodeSelector'])).toBe(true);
    const e = catchStatusError(() => applyPatch(first, pod({ zone: 'b' }), 'b', false, fixtureSchemas, 'core.Pod', T1));
    expect(e.message).toBe('Apply failed with 1 conflict: conflict with "a": .spec.nodeSelector');
    const forced = applyPatch(first, pod({ zone: 'b' }), 'b', true, fixtureSchemas, 'core.Pod', T1) as typeof first;
    expect(forced.spec.nodeSelector).toEqual({ zone: 'b' });
  });
});

describe('applyPatch: handing a field over to a controller (the documented replicas case)', () => {
  it('lets the applier drop replicas after an autoscaler took them, without conflict or removal', () => {
    const applied = apply(undefined, config({ replicas: 2 }));
    const scaled = update(applied, { ...applied, spec: { ...applied.spec, replicas: 5 } }, 'hpa-controller', T1);
    // The autoscaler's write took the field from the applier.
    expect(catchStatusError(() => apply(scaled, config({ replicas: 2 }), 'kubectl', false, T2)).message)
      .toBe('Apply failed with 1 conflict: conflict with "hpa-controller" using apps/v1: .spec.replicas');
    // Leaving replicas out of the configuration keeps the autoscaler's value.
    const handedOver = apply(scaled, config(), 'kubectl', false, T2);
    expect(handedOver.spec.replicas).toBe(5);
    expect(managers(handedOver)).toEqual(['kubectl/Apply', 'hpa-controller/Update']);
  });
});

describe('applyPatch: long lists', () => {
  it('applies and prunes a container with thousands of env vars', () => {
    const env = Array.from({ length: 3000 }, (_, i) => ({ name: `V${i}`, value: String(i) }));
    const first = apply(undefined, config({ containers: [{ name: 'c', image: 'i', env }] }));
    const out = apply(first, config({ containers: [{ name: 'c', image: 'i', env: env.slice(1) }] }), 'kubectl', false, T1);
    expect(out.spec.template.spec.containers[0]!.env).toHaveLength(2999);
  });
});

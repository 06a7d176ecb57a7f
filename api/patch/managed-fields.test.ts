import { DEPLOYMENT, fixtureSchemas } from './fixtures.js';
import { FieldSet, formatPath, keyElement } from './field-set.js';
import { compareObjects, decodeManagedFields, encodeManagedFields, fieldSetOf, updateManagedFields, type ManagedFieldsEntry } from './managed-fields.js';
import type { KubeObject } from '../object.js';

const T0 = new Date('2026-01-01T00:00:00.123Z');
const T1 = new Date('2026-01-01T00:05:00Z');

function deployment(image = 'nginx:1.24', replicas = 1): KubeObject {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'nginx', image, ports: [{ containerPort: 80 }] }] },
      },
    },
  };
}

const update = (old: KubeObject | undefined, next: KubeObject, manager: string, now = T0) =>
  updateManagedFields(old, next, { manager, apiVersion: 'apps/v1', now, schemas: fixtureSchemas, root: DEPLOYMENT });

const entries = (o: KubeObject) => (o.metadata?.managedFields ?? []) as ManagedFieldsEntry[];

describe('FieldSet', () => {
  it('round-trips FieldsV1 with "." for members that have members below', () => {
    const v1 = {
      'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
      'f:spec': { 'f:containers': { 'k:{"name":"nginx"}': { '.': {}, 'f:image': {}, 'f:name': {} } } },
    };
    const s = FieldSet.fromFieldsV1(v1);
    expect(s.size).toBe(5);
    expect(s.has(['f:metadata', 'f:labels'])).toBe(true);
    expect(s.has(['f:metadata'])).toBe(false);
    expect(s.toFieldsV1()).toEqual(v1);
  });

  it('prints paths the way upstream conflict messages do', () => {
    expect(formatPath(['f:spec', 'f:containers', keyElement({ name: 'nginx' }), 'f:image'])).toBe('.spec.containers[name="nginx"].image');
    expect(formatPath(['f:spec', 'f:ports', keyElement({ protocol: 'TCP', containerPort: 80 })])).toBe('.spec.ports[containerPort=80,protocol="TCP"]');
    expect(formatPath(['f:metadata', 'f:finalizers', 'v:"a"'])).toBe('.metadata.finalizers[="a"]');
    expect(keyElement({ protocol: 'TCP', containerPort: 80 })).toBe('k:{"containerPort":80,"protocol":"TCP"}');
  });
});

describe('fieldSetOf (what an applier states)', () => {
  it('owns leaves and list items, not the structs and non-empty maps above them', () => {
    const set = fieldSetOf(deployment(), fixtureSchemas, DEPLOYMENT);
    expect(set.toFieldsV1()).toEqual({
      'f:apiVersion': {}, 'f:kind': {},
      'f:metadata': { 'f:labels': { 'f:app': {} }, 'f:name': {}, 'f:namespace': {} },
      'f:spec': {
        'f:replicas': {},
        'f:selector': {},
        'f:template': {
          'f:metadata': { 'f:labels': { 'f:app': {} } },
          'f:spec': { 'f:containers': { 'k:{"name":"nginx"}': {
            '.': {}, 'f:image': {}, 'f:name': {},
            'f:ports': { 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
          } } },
        },
      },
    });
  });

  it('owns set items by value and atomic lists whole', () => {
    const set = fieldSetOf({ metadata: { finalizers: ['a', 'b'] }, spec: { template: { spec: { tolerations: [{ key: 'k' }] } } } }, fixtureSchemas, DEPLOYMENT);
    expect(set.toFieldsV1()).toEqual({
      'f:metadata': { 'f:finalizers': { 'v:"a"': {}, 'v:"b"': {} } },
      'f:spec': { 'f:template': { 'f:spec': { 'f:tolerations': {} } } },
    });
  });

  it('owns empty maps and explicit nulls', () => {
    const set = fieldSetOf({ metadata: { annotations: {} }, spec: { paused: null } }, fixtureSchemas, DEPLOYMENT);
    expect(set.toFieldsV1()).toEqual({ 'f:metadata': { 'f:annotations': {} }, 'f:spec': { 'f:paused': {} } });
  });

  it('rejects a map-list item without its key', () => {
    expect(() => fieldSetOf({ spec: { template: { spec: { containers: [{ image: 'x' }] } } } }, fixtureSchemas, DEPLOYMENT))
      .toThrow('.spec.template.spec.containers: element 0: associative list with keys has an element that omits key field "name" (and doesn\'t have default value)');
  });

  it('rejects duplicate keys and duplicate set values', () => {
    expect(() => fieldSetOf({ spec: { template: { spec: { containers: [{ name: 'a' }, { name: 'a' }] } } } }, fixtureSchemas, DEPLOYMENT))
      .toThrow('.spec.template.spec.containers: duplicate entries for key [name="a"]');
    expect(() => fieldSetOf({ metadata: { finalizers: ['x', 'x'] } }, fixtureSchemas, DEPLOYMENT))
      .toThrow('.metadata.finalizers: duplicate entries for key [="x"]');
  });
});

describe('compareObjects', () => {
  it('reports added, modified and removed leaves and items', () => {
    const a = deployment();
    const b = deployment('nginx:1.25', 2);
    (b.metadata!.labels as Record<string, string>).tier = 'front';
    (b.spec as { template: { spec: { containers: unknown[] } } }).template.spec.containers.push({ name: 'log', image: 'fluentd' });
    delete (b.metadata!.labels as Record<string, string>).app;
    const c = compareObjects(a, b, fixtureSchemas, DEPLOYMENT);
    const log = keyElement({ name: 'log' });
    expect(c.modified.paths()).toEqual([
      ['f:spec', 'f:replicas'],
      ['f:spec', 'f:template', 'f:spec', 'f:containers', keyElement({ name: 'nginx' }), 'f:image'],
    ]);
    expect(c.added.paths()).toEqual([
      ['f:metadata', 'f:labels', 'f:tier'],
      ['f:spec', 'f:template', 'f:spec', 'f:containers', log],
      ['f:spec', 'f:template', 'f:spec', 'f:containers', log, 'f:image'],
      ['f:spec', 'f:template', 'f:spec', 'f:containers', log, 'f:name'],
    ]);
    expect(c.removed.paths()).toEqual([['f:metadata', 'f:labels', 'f:app']]);
  });
});

describe('updateManagedFields', () => {
  it('gives a creator every field it set, with "." on new maps and list items', () => {
    const out = update(undefined, deployment(), 'kubectl-client-side-apply');
    expect(entries(out)).toEqual([{
      manager: 'kubectl-client-side-apply', operation: 'Update', apiVersion: 'apps/v1', time: '2026-01-01T00:00:00Z', fieldsType: 'FieldsV1',
      fieldsV1: {
        'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
        'f:spec': {
          'f:replicas': {},
          'f:selector': {},
          'f:template': {
            'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
            'f:spec': { 'f:containers': { 'k:{"name":"nginx"}': {
              '.': {}, 'f:image': {}, 'f:name': {},
              'f:ports': { '.': {}, 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
            } } },
          },
        },
      },
    }]);
  });

  it('records pointer structs and new items whole, but not always-present structs', () => {
    const d = deployment();
    const spec = d.spec as Record<string, unknown>;
    spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } };
    const tmpl = spec.template as { spec: Record<string, unknown> };
    tmpl.spec.securityContext = {};
    (tmpl.spec.containers as Record<string, unknown>[])[0]!.resources = {};
    const set = FieldSet.fromFieldsV1(entries(update(undefined, d, 'kubectl-create'))[0]!.fieldsV1);
    expect(set.has(['f:spec'])).toBe(false);
    expect(set.has(['f:spec', 'f:strategy'])).toBe(false);
    expect(set.has(['f:spec', 'f:strategy', 'f:rollingUpdate'])).toBe(true);
    expect(set.has(['f:spec', 'f:template', 'f:spec'])).toBe(false);
    expect(set.has(['f:spec', 'f:template', 'f:spec', 'f:securityContext'])).toBe(true);
    expect(set.has(['f:spec', 'f:template', 'f:spec', 'f:containers'])).toBe(false);
    expect(set.has(['f:spec', 'f:template', 'f:spec', 'f:containers', keyElement({ name: 'nginx' }), 'f:resources'])).toBe(true);
  });

  it('does not record status itself when a controller first writes it', () => {
    const created = update(undefined, deployment(), 'a');
    const withStatus = update(created, { ...created, status: { replicas: 1 } }, 'ctl', T1);
    expect(entries(withStatus).find(e => e.manager === 'ctl')!.fieldsV1).toEqual({ 'f:status': { 'f:replicas': {} } });
  });

  it('moves a changed field to the manager that changed it', () => {
    const created = update(undefined, deployment(), 'kubectl-client-side-apply');
    const edited = update(created, { ...deployment('nginx:1.25'), metadata: created.metadata! }, 'kubectl-edit', T1);
    const byManager = decodeManagedFields(edited.metadata!.managedFields);
    const image = ['f:spec', 'f:template', 'f:spec', 'f:containers', keyElement({ name: 'nginx' }), 'f:image'];
    const [csa, edit] = [...byManager.values()];
    expect(csa!.manager).toBe('kubectl-client-side-apply');
    expect(csa!.fields.has(image)).toBe(false);
    expect(csa!.fields.has(['f:spec', 'f:replicas'])).toBe(true);
    expect(edit!.manager).toBe('kubectl-edit');
    expect(edit!.time).toBe('2026-01-01T00:05:00Z');
    expect(edit!.fields.paths()).toEqual([image]);
  });

  it('adds no entry for a write that changes nothing, and keeps the old time', () => {
    const created = update(undefined, deployment(), 'a');
    const again = update(created, created, 'b', T1);
    expect(entries(again)).toEqual(entries(created));
  });

  it('drops a manager whose last field was removed', () => {
    const created = update(undefined, deployment(), 'a');
    const labeled = update(created, { ...created, metadata: { ...created.metadata!, labels: { app: 'web', extra: 'x' } } }, 'b', T1);
    expect(entries(labeled).map(e => e.manager)).toEqual(['a', 'b']);
    const unlabeled = update(labeled, { ...labeled, metadata: { ...labeled.metadata!, labels: { app: 'web' } } }, 'a', T1);
    expect(entries(unlabeled).map(e => e.manager)).toEqual(['a']);
  });

  it('records status writes under the subresource and leaves ignored fields out', () => {
    const created = update(undefined, deployment(), 'a');
    const withStatus = updateManagedFields(created, { ...created, status: { replicas: 1 } }, {
      manager: 'k8ts-controller', apiVersion: 'apps/v1', subresource: 'status', now: T1, schemas: fixtureSchemas, root: DEPLOYMENT,
    });
    const st = entries(withStatus).find(e => e.manager === 'k8ts-controller')!;
    expect(st).toMatchObject({ subresource: 'status', operation: 'Update', fieldsV1: { 'f:status': { 'f:replicas': {} } } });
    const ignored = updateManagedFields(created, { ...created, status: { replicas: 1 } }, {
      manager: 'x', apiVersion: 'apps/v1', now: T1, schemas: fixtureSchemas, root: DEPLOYMENT, ignored: [['f:status']],
    });
    expect(entries(ignored).map(e => e.manager)).toEqual(['a']);
  });

  it('keeps managedFields a client rewrites, as kubectl does when moving to server-side apply', () => {
    const created = update(undefined, deployment(), 'kubectl-client-side-apply');
    const [csa] = entries(created);
    const rewritten: ManagedFieldsEntry[] = [{ ...csa!, manager: 'kubectl', operation: 'Apply' }];
    const next = { ...created, metadata: { ...created.metadata!, managedFields: rewritten } } as KubeObject;
    const out = update(created, next, 'kubectl', T1);
    expect(entries(out)).toEqual(rewritten);
  });

  it('uses the managedFields a client sends, resets them on [] or [{}], and ignores invalid ones', () => {
    const created = update(undefined, deployment(), 'a');
    const cleared = update(created, { ...created, metadata: { ...created.metadata!, managedFields: [{}] } }, 'b');
    expect(cleared.metadata!.managedFields).toBeUndefined();
    const stored: KubeObject = { ...created, metadata: { ...created.metadata!, uid: 'u1' } };
    const clearedAndChanged = update(stored, { ...stored, metadata: { ...stored.metadata, managedFields: [{}] }, spec: { ...(stored.spec as object), replicas: 9 } }, 'b');
    expect(clearedAndChanged.metadata!.managedFields).toBeUndefined();
    expect(update(clearedAndChanged, { ...clearedAndChanged, spec: { ...(clearedAndChanged.spec as object), replicas: 10 } }, 'c').metadata!.managedFields).toBeUndefined();
    const emptyList = update(created, { ...created, metadata: { ...created.metadata!, managedFields: [] } }, 'b');
    expect(emptyList.metadata!.managedFields).toBeUndefined();
    const { managedFields: _omitted, ...withoutEntries } = created.metadata!;
    const notSent = update(created, { ...created, metadata: withoutEntries }, 'b');
    expect(entries(notSent)).toEqual(entries(created));
    const invalid = update(created, { ...created, metadata: { ...created.metadata!, managedFields: [{ manager: 'x', operation: 'Frob', apiVersion: 'v1', fieldsType: 'FieldsV1' }] } }, 'b');
    expect(entries(invalid)).toEqual(entries(created));
  });

  it('orders entries Apply first, then by time and manager', () => {
    const m = decodeManagedFields([
      { manager: 'z', operation: 'Update', apiVersion: 'v1', time: '2026-01-01T00:00:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:a': {} } },
      { manager: 'b', operation: 'Update', apiVersion: 'v1', time: '2026-01-01T00:00:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:b': {} } },
      { manager: 'c', operation: 'Apply', apiVersion: 'v1', time: '2026-01-02T00:00:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:c': {} } },
    ]);
    expect(encodeManagedFields(m).map(e => e.manager)).toEqual(['c', 'b', 'z']);
  });
});

describe('capUpdateManagers', () => {
  it('folds the oldest Update entries into ancient-changes, keeping ten', () => {
    let obj: KubeObject = update(undefined, { ...deployment(), metadata: { name: 'web', labels: { l0: 'x' } } }, 'm0', new Date(Date.UTC(2026, 0, 1, 0, 0)));
    for (let i = 1; i <= 11; i++) {
      obj = update(obj, { ...obj, metadata: { ...obj.metadata!, labels: { ...obj.metadata!.labels, [`l${i}`]: 'x' } } }, `m${i}`, new Date(Date.UTC(2026, 0, 1, 0, i)));
    }
    const es = entries(obj);
    expect(es).toHaveLength(10);
    const ancient = es.find(e => e.manager === 'ancient-changes')!;
    expect(ancient.time).toBe('2026-01-01T00:02:00Z');
    const fields = FieldSet.fromFieldsV1(ancient.fieldsV1);
    expect(fields.has(['f:metadata', 'f:labels', 'f:l2'])).toBe(true);
    expect(fields.has(['f:spec', 'f:replicas'])).toBe(true);
    expect(es.map(e => e.manager)).not.toContain('m0');
    expect(es.map(e => e.manager)).toContain('m3');
  });
});

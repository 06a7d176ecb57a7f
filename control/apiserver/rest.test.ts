import { field, StatusError } from '../../api/errors.js';
import type { KubeObject } from '../../api/object.js';
import type { RegistryContext, ResourceDef } from '../registry/types.js';
import { SqliteStore } from '../store/sqlite.js';
import { Rest, type WriteOptions } from './rest.js';
import { matchEverything, ResourceStorage } from './storage.js';

// A made-up kind, so these tests pin down the generic semantics and nothing kind-specific.
const widgets: ResourceDef = {
  group: 'example.k8ts.io', version: 'v1', kind: 'Widget', listKind: 'WidgetList', resource: 'widgets', singularName: 'widget',
  namespaced: true, verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'], subresources: ['status'],
  schemaName: 'example.Widget', hasStatusSubresource: true, tracksGeneration: true,
  applyDefaults(obj) { const spec = (obj.spec ??= {}) as { size?: number }; spec.size ??= 1; },
  prepareForCreate(obj) { delete obj.status; },
  validate(obj) { return ((obj.spec as { size: number }).size < 0) ? [field.invalid('spec.size', (obj.spec as { size: number }).size, 'must be greater than or equal to 0')] : []; },
  validateUpdate(obj) { return this.validate(obj, ctx); },
  tableColumns: [], tableRow: () => [],
};
const ctx: RegistryContext = { serviceCIDR: '10.43.0.0/16', clusterCIDR: '10.42.0.0/16', nodePortRange: { min: 30000, max: 32767 }, now: () => new Date('2026-01-02T03:04:05Z') };
const opts = (): WriteOptions => ({ dryRun: false, fieldManager: 'test', fieldValidation: 'Strict', warnings: [] });
const widget = (name: string, spec: object = {}): KubeObject => ({ apiVersion: 'example.k8ts.io/v1', kind: 'Widget', metadata: { name }, spec });

async function expectStatus(p: Promise<unknown>, code: number, message?: RegExp): Promise<StatusError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(StatusError);
    expect((err as StatusError).code).toBe(code);
    if (message) expect((err as StatusError).message).toMatch(message);
    return err as StatusError;
  }
  throw new Error(`expected a ${code} error`);
}

describe('generic REST semantics', () => {
  let store: SqliteStore;
  let rest: Rest;
  beforeEach(() => {
    store = new SqliteStore({ path: ':memory:' });
    rest = new Rest(new ResourceStorage(widgets, store), ctx, {}, undefined, undefined);
  });
  afterEach(async () => { await store.close(); });

  it('create fills in uid, creationTimestamp, generation and defaults, and drops status', async () => {
    const created = await rest.create('ns', { ...widget('a'), status: { ready: true } }, opts());
    expect(created.metadata).toMatchObject({ name: 'a', namespace: 'ns', generation: 1, creationTimestamp: '2026-01-02T03:04:05Z' });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.resourceVersion).toMatch(/^\d+$/);
    expect(created.spec).toEqual({ size: 1 });
    expect(created.status).toBeUndefined();
    expect(await rest.get('ns', 'a')).toEqual(created);
  });

  it('create rejects a second object of the same name with 409 AlreadyExists', async () => {
    await rest.create('ns', widget('a'), opts());
    const err = await expectStatus(rest.create('ns', widget('a'), opts()), 409, /widgets.example.k8ts.io "a" already exists/);
    expect(err.reason).toBe('AlreadyExists');
  });

  it('create with generateName makes a unique name with a 5-character suffix', async () => {
    const a = await rest.create('ns', { ...widget(''), metadata: { generateName: 'w-' } }, opts());
    expect(a.metadata?.name).toMatch(/^w-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  });

  it('create collects validation errors into a 422 and writes nothing', async () => {
    const err = await expectStatus(rest.create('ns', widget('bad', { size: -1 }), opts()), 422, /Widget.example.k8ts.io "bad" is invalid: spec.size: Invalid value: -1/);
    expect(err.details?.causes).toEqual([{ reason: 'FieldValueInvalid', message: 'spec.size: Invalid value: -1: must be greater than or equal to 0', field: 'spec.size' }]);
    await expectStatus(rest.get('ns', 'bad'), 404);
  });

  it('create refuses a body whose kind or namespace does not match the request', async () => {
    await expectStatus(rest.create('ns', { ...widget('a'), kind: 'Gadget' }, opts()), 400, /kind in the data \(Gadget\)/);
    await expectStatus(rest.create('ns', { ...widget('a'), metadata: { name: 'a', namespace: 'other' } }, opts()), 400, /namespace of the provided object does not match/);
  });

  it('dry-run create validates and returns the object without storing it', async () => {
    const o = await rest.create('ns', widget('a'), { ...opts(), dryRun: true });
    expect(o.metadata?.name).toBe('a');
    await expectStatus(rest.get('ns', 'a'), 404);
  });

  it('update with a stale resourceVersion is a 409 Conflict', async () => {
    const a = await rest.create('ns', widget('a'), opts());
    await rest.update('ns', 'a', '', cur => ({ ...cur, spec: { size: 2 } }), opts());
    await expectStatus(rest.update('ns', 'a', '', () => ({ ...a, spec: { size: 3 } }), opts()), 409, /the object has been modified/);
    expect((await rest.get('ns', 'a')).spec).toEqual({ size: 2 });
  });

  it('update bumps generation on spec changes only, and keeps status out of the main resource', async () => {
    await rest.create('ns', widget('a'), opts());
    const labelled = await rest.update('ns', 'a', '', cur => ({ ...cur, metadata: { ...cur.metadata, labels: { x: 'y' } }, status: { hacked: true } }), opts());
    expect(labelled.metadata?.generation).toBe(1);
    expect(labelled.status).toBeUndefined();
    const resized = await rest.update('ns', 'a', '', cur => ({ ...cur, spec: { size: 5 } }), opts());
    expect(resized.metadata?.generation).toBe(2);
    const status = await rest.update('ns', 'a', 'status', cur => ({ ...cur, spec: { size: 100 }, status: { ready: true } }), opts());
    expect(status.status).toEqual({ ready: true });
    expect(status.spec).toEqual({ size: 5 });
    expect(status.metadata?.generation).toBe(2);
  });

  it('an update that changes nothing writes nothing (same resourceVersion)', async () => {
    const a = await rest.create('ns', widget('a'), opts());
    const same = await rest.update('ns', 'a', '', cur => cur, opts());
    expect(same.metadata?.resourceVersion).toBe(a.metadata?.resourceVersion);
  });

  it('system metadata cannot be changed by an update', async () => {
    const a = await rest.create('ns', widget('a'), opts());
    const u = await rest.update('ns', 'a', '', cur => ({ ...cur, metadata: { ...cur.metadata, creationTimestamp: '2000-01-01T00:00:00Z', generation: 99 } }), opts());
    expect(u.metadata?.creationTimestamp).toBe(a.metadata?.creationTimestamp);
    expect(u.metadata?.generation).toBe(1);
    await expectStatus(rest.update('ns', 'a', '', cur => ({ ...cur, metadata: { ...cur.metadata, uid: 'other' } }), opts()), 409, /Precondition failed: UID/);
  });

  it('delete with finalizers marks the object; removing the last finalizer deletes it', async () => {
    await rest.create('ns', { ...widget('a'), metadata: { name: 'a', finalizers: ['example.com/keep'] } }, opts());
    const { object, deleted } = await rest.delete('ns', 'a', { dryRun: false });
    expect(deleted).toBe(false);
    expect(object.metadata?.deletionTimestamp).toBe('2026-01-02T03:04:05Z');
    const gone = await rest.update('ns', 'a', '', cur => ({ ...cur, metadata: { ...cur.metadata, finalizers: [] } }), opts());
    expect(gone.metadata?.name).toBe('a');
    await expectStatus(rest.get('ns', 'a'), 404);
  });

  it('delete honours uid and resourceVersion preconditions', async () => {
    await rest.create('ns', widget('a'), opts());
    await expectStatus(rest.delete('ns', 'a', { dryRun: false, preconditions: { uid: 'nope' } }), 409, /Precondition failed: UID in precondition: nope/);
    await expectStatus(rest.delete('ns', 'a', { dryRun: false, preconditions: { resourceVersion: '999' } }), 409, /ResourceVersion in precondition/);
    expect((await rest.delete('ns', 'a', { dryRun: false })).deleted).toBe(true);
  });

  it('orphan and foreground propagation add their finalizers', async () => {
    await rest.create('ns', widget('a'), opts());
    await rest.create('ns', widget('b'), opts());
    expect((await rest.delete('ns', 'a', { dryRun: false, propagationPolicy: 'Orphan' })).object.metadata?.finalizers).toEqual(['orphan']);
    expect((await rest.delete('ns', 'b', { dryRun: false, propagationPolicy: 'Foreground' })).object.metadata?.finalizers).toEqual(['foregroundDeletion']);
  });

  it('list pages with limit and continue, and filters', async () => {
    for (const n of ['a', 'b', 'c', 'd', 'e']) await rest.create('ns', { ...widget(n), metadata: { name: n, labels: { even: String('bd'.includes(n)) } } }, opts());
    await rest.create('other', widget('z'), opts());
    const p1 = await rest.list('ns', matchEverything, 2);
    expect(p1.items.map(i => i.metadata?.name)).toEqual(['a', 'b']);
    expect(p1.remainingItemCount).toBe(3);
    const p2 = await rest.list('ns', { matches: () => true }, 2, p1.continue);
    expect(p2.items.map(i => i.metadata?.name)).toEqual(['c', 'd']);
    const p3 = await rest.list('ns', { matches: () => true }, 2, p2.continue);
    expect(p3.items.map(i => i.metadata?.name)).toEqual(['e']);
    expect(p3.continue).toBeUndefined();
    const all = await rest.list('', { matches: o => o.metadata?.labels?.even !== 'true' });
    expect(all.items.map(i => `${i.metadata?.namespace}/${i.metadata?.name}`)).toEqual(['ns/a', 'ns/c', 'ns/e', 'other/z']);
    await expectStatus(rest.list('ns', { matches: () => true }, 2, 'garbage'), 400, /invalid continue token/);
  });

  it('watch reports ADDED, MODIFIED and DELETED, and selector transitions', async () => {
    const start = Number((await rest.list('ns', { matches: () => true })).resourceVersion);
    const seen: string[] = [];
    const stop = rest.storage.watch('ns', start, { matches: o => o.metadata?.labels?.app === 'x' }, e => {
      if (e.type !== 'PROGRESS') seen.push(`${e.type} ${e.object.metadata?.name}`);
    }, () => undefined, 0);
    await rest.create('ns', { ...widget('a'), metadata: { name: 'a', labels: { app: 'x' } } }, opts());
    await rest.create('ns', widget('b'), opts());
    await rest.update('ns', 'b', '', cur => ({ ...cur, metadata: { ...cur.metadata, labels: { app: 'x' } } }), opts());
    await rest.update('ns', 'a', '', cur => ({ ...cur, metadata: { ...cur.metadata, labels: { app: 'y' } } }), opts());
    await rest.update('ns', 'b', '', cur => ({ ...cur, spec: { size: 9 } }), opts());
    await rest.delete('ns', 'b', { dryRun: false });
    await new Promise(r => setTimeout(r, 50));
    stop();
    expect(seen).toEqual(['ADDED a', 'ADDED b', 'DELETED a', 'MODIFIED b', 'DELETED b']);
  });
});

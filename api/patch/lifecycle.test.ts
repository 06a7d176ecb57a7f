// The patch functions together, in the order real clients drive them: kubectl's client-side apply
// (create, then strategic merge patches), an edit, a controller writing status, and finally a
// move to server-side apply.
import type { KubeObject } from '../object.js';
import { applyPatch, lastAppliedAnnotation } from './apply.js';
import { DEPLOYMENT, fixtureSchemas } from './fixtures.js';
import { applyJsonPatch } from './json-patch.js';
import { decodeManagedFields, updateManagedFields, type ManagedFieldsEntry } from './managed-fields.js';
import { applyMergePatch } from './merge-patch.js';
import { applyStrategicMergePatch } from './strategic.js';

const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 12, minute));
const record = (old: KubeObject | undefined, next: KubeObject, manager: string, minute: number, subresource?: string) =>
  updateManagedFields(old, next, {
    manager, apiVersion: 'apps/v1', now: at(minute), schemas: fixtureSchemas, root: DEPLOYMENT,
    ignored: subresource ? [['f:spec'], ['f:metadata']] : [['f:status']],
    ...(subresource ? { subresource } : {}),
  });
const owners = (o: KubeObject) => ((o.metadata?.managedFields ?? []) as ManagedFieldsEntry[]).map(e => e.manager + (e.subresource ? `/${e.subresource}` : ''));

interface Dep extends KubeObject {
  spec: { replicas: number; template: { spec: { containers: { name: string; image: string; env?: { name: string; value: string }[] }[] } } };
}

function manifest(image: string, replicas: number) {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image, env: [{ name: 'MODE', value: 'prod' }] }] } },
    },
  };
}

describe('a Deployment through kubectl apply, edit, scale, status and server-side apply', () => {
  it('keeps content and ownership as upstream would at every step', () => {
    // 1. kubectl apply (client-side) creates the object with the annotation.
    const m1 = manifest('nginx:1.24', 1);
    const created = { ...m1, metadata: { ...m1.metadata, annotations: { [lastAppliedAnnotation]: JSON.stringify(m1) } } };
    let live = record(undefined, created, 'kubectl-client-side-apply', 0) as Dep;
    expect(owners(live)).toEqual(['kubectl-client-side-apply']);

    // 2. kubectl apply again with a new image and without the env var: the three-way patch kubectl sends.
    const m2 = { ...manifest('nginx:1.25', 1) };
    delete (m2.spec.template.spec.containers[0] as { env?: unknown }).env;
    const smp = {
      metadata: { annotations: { [lastAppliedAnnotation]: JSON.stringify(m2) } },
      spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'nginx' }], containers: [{ env: null, image: 'nginx:1.25', name: 'nginx' }] } } },
    };
    let next = applyStrategicMergePatch(live, smp, fixtureSchemas, DEPLOYMENT);
    live = record(live, next, 'kubectl-client-side-apply', 1) as Dep;
    expect(live.spec.template.spec.containers).toEqual([{ name: 'nginx', image: 'nginx:1.25' }]);
    expect(owners(live)).toEqual(['kubectl-client-side-apply']);

    // 3. kubectl scale (merge patch on /scale is recorded on the main object here for simplicity).
    next = applyMergePatch(live, { spec: { replicas: 3 } });
    live = record(live, next, 'kubectl', 2) as Dep;
    expect(live.spec.replicas).toBe(3);
    expect(owners(live)).toEqual(['kubectl-client-side-apply', 'kubectl']);

    // 4. a JSON patch by another tool adds an env var.
    next = applyJsonPatch(live, [{ op: 'add', path: '/spec/template/spec/containers/0/env', value: [{ name: 'DEBUG', value: '1' }] }]);
    live = record(live, next, 'kubectl-patch', 3) as Dep;

    // 5. the controller writes status through the status subresource.
    next = { ...live, status: { replicas: 3, readyReplicas: 3 } };
    live = record(live, next, 'k8ts-controller-manager', 4, 'status') as Dep;
    expect(owners(live)).toEqual(['kubectl-client-side-apply', 'kubectl', 'kubectl-patch', 'k8ts-controller-manager/status']);

    // 6. kubectl apply --server-side with the same manifest but 2 replicas: replicas were set by
    //    `kubectl` (scale), which is not the annotation's value, so the migration does not cover it.
    const m3 = manifest('nginx:1.25', 2);
    delete (m3.spec.template.spec.containers[0] as { env?: unknown }).env;
    expect(() => applyPatch(live, m3, 'kubectl', false, fixtureSchemas, DEPLOYMENT, at(5), { ignored: [['f:status']] }))
      .toThrow('Apply failed with 1 conflict: conflict with "kubectl" using apps/v1: .spec.replicas');

    // 7. with 3 replicas, the image matches the annotation: taken over without a conflict.
    const m4 = manifest('nginx:1.26', 3);
    delete (m4.spec.template.spec.containers[0] as { env?: unknown }).env;
    const applied = applyPatch(live, m4, 'kubectl', false, fixtureSchemas, DEPLOYMENT, at(6), { ignored: [['f:status']] }) as Dep;
    expect(applied.spec.template.spec.containers).toEqual([{ name: 'nginx', image: 'nginx:1.26', env: [{ name: 'DEBUG', value: '1' }] }]);
    expect(applied.status).toEqual({ replicas: 3, readyReplicas: 3 });
    const byName = new Map([...decodeManagedFields(applied.metadata!.managedFields).values()].map(m => [m.manager + m.operation, m]));
    const image = ['f:spec', 'f:template', 'f:spec', 'f:containers', 'k:{"name":"nginx"}', 'f:image'];
    expect(byName.get('kubectlApply')!.fields.has(image)).toBe(true);
    expect(byName.get('kubectl-client-side-applyUpdate')!.fields.has(image)).toBe(false);
    expect(JSON.parse(applied.metadata!.annotations![lastAppliedAnnotation]!)).toEqual(m4);
  });
});

import { StatusError } from '../errors.js';
import { DEPLOYMENT, POD, fixtureSchemas } from './fixtures.js';
import { applyStrategicMergePatch } from './strategic.js';

const smp = <T,>(original: T, patch: unknown, root = DEPLOYMENT): T => applyStrategicMergePatch(original, patch, fixtureSchemas, root);
const podSmp = <T,>(original: T, patch: unknown): T => smp(original, patch, POD);

const LAST = 'kubectl.kubernetes.io/last-applied-configuration';

function deployment() {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', labels: { app: 'web', tier: 'front' }, annotations: { [LAST]: '{}' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'web' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            {
              name: 'nginx', image: 'nginx:1.24',
              ports: [{ containerPort: 80, protocol: 'TCP' }],
              env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }],
            },
            { name: 'sidecar', image: 'busybox', args: ['sleep', '3600'] },
          ],
          volumes: [{ name: 'data', hostPath: { path: '/data' } }],
          tolerations: [{ key: 'a', operator: 'Exists' }],
        },
      },
    },
  };
}

describe('applyStrategicMergePatch: what kubectl apply (client-side) sends', () => {
  it('changes an image, keeping the other container and fields', () => {
    const out = smp(deployment(), {
      metadata: { annotations: { [LAST]: '{"new":true}' } },
      spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'nginx' }, { name: 'sidecar' }], containers: [{ image: 'nginx:1.25', name: 'nginx' }] } } },
    });
    const want = deployment();
    want.metadata.annotations[LAST] = '{"new":true}';
    want.spec.template.spec.containers[0]!.image = 'nginx:1.25';
    expect(out).toEqual(want);
  });

  it('changes replicas', () => {
    expect(smp(deployment(), { spec: { replicas: 3 } }).spec.replicas).toBe(3);
  });

  it('removes a label with null', () => {
    expect(smp(deployment(), { metadata: { labels: { tier: null } } }).metadata.labels).toEqual({ app: 'web' });
  });

  it('adds a container at the place $setElementOrder gives', () => {
    const out = smp(deployment(), {
      spec: { template: { spec: {
        '$setElementOrder/containers': [{ name: 'nginx' }, { name: 'log' }, { name: 'sidecar' }],
        containers: [{ image: 'fluentd', name: 'log' }],
      } } },
    });
    expect(out.spec.template.spec.containers.map(c => c.name)).toEqual(['nginx', 'log', 'sidecar']);
    expect(out.spec.template.spec.containers[1]).toEqual({ name: 'log', image: 'fluentd' });
  });

  it('puts a new container before the server-only ones when no order is given, as upstream', () => {
    const out = smp(deployment(), { spec: { template: { spec: { containers: [{ image: 'fluentd', name: 'log' }] } } } });
    expect(out.spec.template.spec.containers.map(c => c.name)).toEqual(['log', 'nginx', 'sidecar']);
  });

  it('removes a container with a $patch: delete item', () => {
    const out = smp(deployment(), {
      spec: { template: { spec: {
        '$setElementOrder/containers': [{ name: 'nginx' }],
        containers: [{ $patch: 'delete', name: 'sidecar' }],
      } } },
    });
    expect(out.spec.template.spec.containers.map(c => c.name)).toEqual(['nginx']);
    expect(out.spec.template.spec.containers[0]).toEqual(deployment().spec.template.spec.containers[0]);
  });

  it('adds a port and removes an env var inside a container', () => {
    const out = smp(deployment(), {
      spec: { template: { spec: {
        '$setElementOrder/containers': [{ name: 'nginx' }, { name: 'sidecar' }],
        containers: [{
          '$setElementOrder/env': [{ name: 'A' }],
          '$setElementOrder/ports': [{ containerPort: 80 }, { containerPort: 443 }],
          env: [{ $patch: 'delete', name: 'B' }],
          name: 'nginx',
          ports: [{ containerPort: 443 }],
        }],
      } } },
    });
    const c = out.spec.template.spec.containers[0]!;
    expect(c.ports).toEqual([{ containerPort: 80, protocol: 'TCP' }, { containerPort: 443 }]);
    expect(c.env).toEqual([{ name: 'A', value: '1' }]);
  });

  it('changes an env var value in place', () => {
    const out = smp(deployment(), {
      spec: { template: { spec: { containers: [{ '$setElementOrder/env': [{ name: 'A' }, { name: 'B' }], env: [{ name: 'B', value: '3' }], name: 'nginx' }] } } },
    });
    expect(out.spec.template.spec.containers[0]!.env).toEqual([{ name: 'A', value: '1' }, { name: 'B', value: '3' }]);
  });

  it('replaces lists that have no merge strategy (args, tolerations)', () => {
    const out = smp(deployment(), {
      spec: { template: { spec: {
        containers: [{ name: 'sidecar', args: ['sleep', '10'] }],
        tolerations: [{ key: 'b', operator: 'Exists' }],
      } } },
    });
    expect(out.spec.template.spec.containers[1]!.args).toEqual(['sleep', '10']);
    expect(out.spec.template.spec.tolerations).toEqual([{ key: 'b', operator: 'Exists' }]);
  });

  it('switches the strategy to Recreate with $retainKeys, clearing rollingUpdate', () => {
    const out = smp(deployment(), { spec: { strategy: { $retainKeys: ['type'], rollingUpdate: null, type: 'Recreate' } } });
    expect(out.spec.strategy).toEqual({ type: 'Recreate' });
  });

  it('swaps a volume source with $retainKeys inside a merged list item', () => {
    const out = smp(deployment(), {
      spec: { template: { spec: {
        '$setElementOrder/volumes': [{ name: 'data' }],
        volumes: [{ $retainKeys: ['emptyDir', 'name'], emptyDir: {}, hostPath: null, name: 'data' }],
      } } },
    });
    expect(out.spec.template.spec.volumes).toEqual([{ name: 'data', emptyDir: {} }]);
  });

  it('rejects a patch member missing from $retainKeys', () => {
    expect(() => smp(deployment(), { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate', rollingUpdate: {} } } }))
      .toThrow('invalid patch format of retainKeys');
  });
});

describe('applyStrategicMergePatch: primitive lists with merge strategy (finalizers)', () => {
  const withFinalizers = (f: string[]) => ({ metadata: { name: 'x', finalizers: f } });

  it('merges finalizers as a set, keeping server-only ones', () => {
    expect(smp(withFinalizers(['a', 'b']), { metadata: { finalizers: ['b', 'c'] } }).metadata.finalizers).toEqual(['a', 'b', 'c']);
  });

  it('deletes with $deleteFromPrimitiveList and orders with $setElementOrder', () => {
    const out = smp(withFinalizers(['a', 'b', 'c']), { metadata: { '$deleteFromPrimitiveList/finalizers': ['b'], '$setElementOrder/finalizers': ['c', 'a'] } });
    expect(out.metadata.finalizers).toEqual(['c', 'a']);
  });

  it('keeps a server-only item in its place relative to the ordered items', () => {
    const out = smp(withFinalizers(['a', 'server', 'b']), { metadata: { '$setElementOrder/finalizers': ['a', 'b', 'c'], finalizers: ['c'] } });
    expect(out.metadata.finalizers).toEqual(['a', 'server', 'b', 'c']);
  });

  it('removes the list with null', () => {
    expect(smp(withFinalizers(['a']), { metadata: { finalizers: null } }).metadata).toEqual({ name: 'x' });
  });
});

describe('applyStrategicMergePatch: directives', () => {
  it('replaces a map with $patch: replace', () => {
    const out = smp(deployment(), { metadata: { labels: { $patch: 'replace', only: 'this' } } });
    expect(out.metadata.labels).toEqual({ only: 'this' });
  });

  it('empties a map with $patch: delete', () => {
    expect(smp(deployment(), { metadata: { labels: { $patch: 'delete' } } }).metadata.labels).toEqual({});
  });

  it('replaces a whole merging list with a $patch: replace item', () => {
    const out = smp(deployment(), { spec: { template: { spec: { containers: [{ name: 'only', image: 'x' }, { $patch: 'replace' }] } } } });
    expect(out.spec.template.spec.containers).toEqual([{ name: 'only', image: 'x' }]);
  });

  it('rejects $patch: merge inside a list, as upstream', () => {
    expect(() => smp(deployment(), { spec: { template: { spec: { containers: [{ $patch: 'merge' }] } } } })).toThrow('merging lists cannot yet be specified in the patch');
  });

  it('rejects an unknown directive', () => {
    const e = (() => { try { smp(deployment(), { metadata: { labels: { $patch: 'frob' } } }); } catch (err) { return err; } })();
    expect(e).toBeInstanceOf(StatusError);
    expect((e as StatusError).message).toBe('unknown patch type: frob in map: map[$patch:frob]');
  });

  it('reports an item without its merge key', () => {
    expect(() => smp(deployment(), { spec: { template: { spec: { containers: [{ image: 'x' }] } } } }))
      .toThrow('map: map[image:x] does not contain declared merge key: name');
  });

  it('keeps directives and nulls out of subtrees the original lacks', () => {
    const out = podSmp({ metadata: { name: 'p' } }, {
      spec: { containers: [{ name: 'a', image: 'x', '$setElementOrder/env': [{ name: 'E' }], env: [{ name: 'E', value: '1' }], ports: null }] },
    });
    expect(out).toEqual({ metadata: { name: 'p' }, spec: { containers: [{ name: 'a', image: 'x', env: [{ name: 'E', value: '1' }] }] } });
  });

  it('merges status conditions by type, new ones ahead of server-only ones as upstream orders them', () => {
    const pod = { status: { conditions: [{ type: 'Ready', status: 'False' }, { type: 'Initialized', status: 'True' }] } };
    const out = podSmp(pod, { status: { conditions: [{ type: 'Ready', status: 'True' }, { type: 'PodScheduled', status: 'True' }] } });
    expect(out.status.conditions).toEqual([
      { type: 'Ready', status: 'True' }, { type: 'PodScheduled', status: 'True' }, { type: 'Initialized', status: 'True' },
    ]);
  });

  it('falls back to merge-patch rules where the schema knows nothing', () => {
    const out = smp({ spec: { extra: { list: [1, 2], keep: true } } }, { spec: { extra: { list: [3] } } });
    expect(out).toEqual({ spec: { extra: { list: [3], keep: true } } });
    const noSchema = applyStrategicMergePatch({ a: [{ name: 'x' }] }, { a: [{ name: 'y' }] }, undefined, undefined);
    expect(noSchema).toEqual({ a: [{ name: 'y' }] });
  });

  it('replaces a value whose type changes', () => {
    expect(smp({ spec: { replicas: 1 } }, { spec: { replicas: { x: 1 } } })).toEqual({ spec: { replicas: { x: 1 } } });
  });

  it('does not mutate its inputs', () => {
    const orig = deployment();
    const patch = { spec: { template: { spec: { containers: [{ $patch: 'delete', name: 'sidecar' }] } } } };
    const patchCopy = JSON.parse(JSON.stringify(patch));
    smp(orig, patch);
    expect(orig).toEqual(deployment());
    expect(patch).toEqual(patchCopy);
  });
});

describe('applyStrategicMergePatch: new lists', () => {
  it('copies a new list whose items lack the merge key, leaving the error to validation', () => {
    const out = podSmp({ spec: {} }, { spec: { containers: [{ image: 'x' }] } });
    expect(out).toEqual({ spec: { containers: [{ image: 'x' }] } });
  });
});

describe('applyStrategicMergePatch: long lists', () => {
  it('merges and orders a list of thousands of items', () => {
    const env = Array.from({ length: 5000 }, (_, i) => ({ name: `V${i}`, value: String(i) }));
    const live = { spec: { containers: [{ name: 'c', env }] } };
    const order = env.map(e => ({ name: e.name })).reverse();
    const out = podSmp(live, { spec: { containers: [{ name: 'c', '$setElementOrder/env': order, env: [{ name: 'V7', value: 'x' }, { name: 'V9', $patch: 'delete' }] }] } });
    const got = out.spec.containers[0]!.env;
    expect(got).toHaveLength(4999);
    expect(got[0]).toEqual({ name: 'V4999', value: '4999' });
    expect(got.find(e => e.name === 'V7')).toEqual({ name: 'V7', value: 'x' });
  });
});

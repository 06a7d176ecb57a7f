import { StatusError } from '../../api/errors.js';
import type { KubeObject } from '../../api/object.js';
import { deployments } from './apps/deployments.js';
import { applyScale, scaleFor } from './scale.js';
import type { ResourceDef } from './types.js';

const deployment = (): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default', uid: 'u-1', resourceVersion: '42', creationTimestamp: '2026-01-01T00:00:00Z', labels: { x: 'y' } },
  spec: { replicas: 3, selector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['b', 'a'] }] } },
  status: { replicas: 2 },
});

// A ReplicationController-like mapping with a plain map selector.
const rcLike: ResourceDef = { ...deployments, group: '', kind: 'ReplicationController', resource: 'replicationcontrollers', scale: { specReplicas: 'spec.replicas', statusReplicas: 'status.replicas', selector: 'spec.selector', selectorIsMap: true } };

describe('scaleFor', () => {
  it('builds an autoscaling/v1 Scale with the selector as a string', () => {
    expect(scaleFor(deployments, deployment())).toEqual({
      kind: 'Scale', apiVersion: 'autoscaling/v1',
      metadata: { name: 'web', namespace: 'default', uid: 'u-1', resourceVersion: '42', creationTimestamp: '2026-01-01T00:00:00Z' },
      spec: { replicas: 3 },
      status: { replicas: 2, selector: 'app=web,tier in (a,b)' },
    });
  });

  it('omits zero spec replicas and an empty selector, and keeps status.replicas', () => {
    const d = deployment();
    (d.spec as Record<string, unknown>).replicas = 0;
    (d.spec as Record<string, unknown>).selector = {};
    delete d.status;
    const s = scaleFor(deployments, d);
    expect(s.spec).toEqual({});
    expect(s.status).toEqual({ replicas: 0 });
  });

  it('renders a map selector sorted by key', () => {
    const rc: KubeObject = { metadata: { name: 'rc' }, spec: { replicas: 1, selector: { b: '2', a: '1' } }, status: { replicas: 1 } };
    expect(scaleFor(rcLike, rc).status).toEqual({ replicas: 1, selector: 'a=1,b=2' });
  });
});

describe('applyScale', () => {
  it('copies spec.replicas and the resourceVersion precondition without touching the input', () => {
    const d = deployment();
    const next = applyScale(deployments, d, { metadata: { name: 'web', resourceVersion: '41' }, spec: { replicas: 5 } });
    expect((next.spec as Record<string, unknown>).replicas).toBe(5);
    expect(next.metadata!.resourceVersion).toBe('41');
    expect((d.spec as Record<string, unknown>).replicas).toBe(3);
  });

  it('treats a missing spec.replicas as zero', () => {
    const next = applyScale(deployments, deployment(), { metadata: { name: 'web' }, spec: {} });
    expect((next.spec as Record<string, unknown>).replicas).toBe(0);
    expect(next.metadata!.resourceVersion).toBe('42');
  });

  it('rejects negative replicas as a Scale.autoscaling 422', () => {
    try {
      applyScale(deployments, deployment(), { metadata: { name: 'web' }, spec: { replicas: -1 } });
      throw new Error('expected a StatusError');
    } catch (e) {
      expect(e).toBeInstanceOf(StatusError);
      const s = (e as StatusError).toStatus();
      expect(s.code).toBe(422);
      expect(s.message).toBe('Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0');
    }
  });

  it('refuses a Scale whose uid names another object', () => {
    expect(() => applyScale(deployments, deployment(), { metadata: { name: 'web', uid: 'other' }, spec: { replicas: 1 } })).toThrow(/Precondition failed: UID in precondition: other/);
  });
});

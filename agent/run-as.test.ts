import type { Pod } from 'kubernetes-types/core/v1.js';
import { planRunAs, runAsToAnnotations, verifyRunAsNonRoot } from './run-as.js';

const pod = (sc: NonNullable<Pod['spec']>['securityContext'], csc?: NonNullable<Pod['spec']>['containers'][0]['securityContext']): [Pod, NonNullable<Pod['spec']>['containers'][0]] => {
  const c = { name: 'c', ...(csc ? { securityContext: csc } : {}) };
  return [{ metadata: { name: 'p', namespace: 'ns', uid: 'u' }, spec: { containers: [c], ...(sc ? { securityContext: sc } : {}) } }, c];
};

describe('planRunAs', () => {
  it('is undefined when nothing asks for an identity', () => {
    expect(planRunAs(...pod(undefined))).toBeUndefined();
  });
  it('takes the pod\'s ids, with the container\'s winning field by field, and fsGroup among the groups', () => {
    expect(planRunAs(...pod({ runAsUser: 1000, runAsGroup: 2000, supplementalGroups: [5, 6], fsGroup: 7 }, { runAsUser: 1001 }))).toEqual({ uid: 1001, gid: 2000, additionalGids: [5, 6, 7] });
  });
  it('refuses runAsNonRoot with runAsUser 0, as upstream', () => {
    expect(() => planRunAs(...pod({ runAsNonRoot: true }, { runAsUser: 0 }))).toThrow(/runAsUser breaks non-root policy/);
  });
});

describe('verifyRunAsNonRoot', () => {
  it('refuses an image that runs as root (no USER, USER 0 or 0:gid) when runAsNonRoot has no runAsUser', () => {
    for (const u of ['', '0', '0:1000', '00']) {
      expect(verifyRunAsNonRoot(...pod({ runAsNonRoot: true }), u)).toBe('container has runAsNonRoot and image will run as root (pod: "p_ns(u)", container: c)');
    }
  });
  it('passes a numeric non-root image user, and refuses a named one as unverifiable', () => {
    expect(verifyRunAsNonRoot(...pod({ runAsNonRoot: true }), '1000')).toBeUndefined();
    expect(verifyRunAsNonRoot(...pod(undefined, { runAsNonRoot: true }), '1000:1000')).toBeUndefined();
    expect(verifyRunAsNonRoot(...pod({ runAsNonRoot: true }), 'nobody')).toBe('container has runAsNonRoot and image has non-numeric user (nobody), cannot verify user is non-root (pod: "p_ns(u)", container: c)');
  });
  it('does not look at the image when runAsUser decides or runAsNonRoot is off', () => {
    expect(verifyRunAsNonRoot(...pod({ runAsNonRoot: true, runAsUser: 1000 }), '')).toBeUndefined();
    expect(verifyRunAsNonRoot(...pod({ runAsNonRoot: true }, { runAsNonRoot: false }), '')).toBeUndefined();
    expect(verifyRunAsNonRoot(...pod(undefined), '')).toBeUndefined();
  });
});

describe('runAsToAnnotations', () => {
  it('gives group 0 to a uid without a group, and lists supplemental groups', () => {
    expect(runAsToAnnotations({ uid: 1000, additionalGids: [] })).toEqual({ 'io.k8ts.run-as-user': '1000', 'io.k8ts.run-as-group': '0' });
    expect(runAsToAnnotations({ gid: 3, additionalGids: [4, 5] })).toEqual({ 'io.k8ts.run-as-group': '3', 'io.k8ts.supplemental-groups': '4,5' });
  });
});

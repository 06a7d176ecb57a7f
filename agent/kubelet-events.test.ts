import type { Pod } from 'kubernetes-types/core/v1.js';
import { containerFieldPath, formatPod, goDuration, kubeletEvents, nodeObject, podObject } from './kubelet-events.js';

const pod: Pod = { metadata: { name: 'web', namespace: 'shop', uid: '0b6e-42' }, spec: { containers: [] } };

describe('kubelet events', () => {
  it('point at a container as upstream does', () => {
    expect(containerFieldPath('app', false)).toBe('spec.containers{app}');
    expect(containerFieldPath('setup', true)).toBe('spec.initContainers{setup}');
    expect(formatPod(pod)).toBe('web_shop(0b6e-42)');
    expect(podObject(pod)).toMatchObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' } });
    expect(nodeObject('n1')).toEqual({ kind: 'Node', metadata: { name: 'n1', uid: 'n1' } });
  });

  it('write Go durations as time.Duration prints them', () => {
    expect([0, 7, 999, 1000, 1500, 1234, 61_250, 3_600_000, 3_723_004].map(goDuration))
      .toEqual(['0s', '7ms', '999ms', '1s', '1.5s', '1.234s', '1m1.25s', '1h0m0s', '1h2m3.004s']);
  });

  it('have the image manager\'s texts', () => {
    expect(kubeletEvents.pulling('busybox:1.36')).toEqual({ type: 'Normal', reason: 'Pulling', message: 'Pulling image "busybox:1.36"' });
    expect(kubeletEvents.pulled('busybox:1.36', 1234, 1234).message).toBe('Successfully pulled image "busybox:1.36" in 1.234s (1.234s including waiting)');
    expect(kubeletEvents.pulled('busybox:1.36', 800, 900, 2_134_567).message)
      .toBe('Successfully pulled image "busybox:1.36" in 800ms (900ms including waiting). Image size: 2134567 bytes.');
    expect(kubeletEvents.alreadyPresent('k8ts/busybox:test')).toEqual({ type: 'Normal', reason: 'Pulled', message: 'Container image "k8ts/busybox:test" already present on machine' });
    expect(kubeletEvents.failedPull('x:1', 'not found')).toEqual({ type: 'Warning', reason: 'Failed', message: 'Failed to pull image "x:1": not found' });
    expect(kubeletEvents.error('ErrImagePull')).toEqual({ type: 'Warning', reason: 'Failed', message: 'Error: ErrImagePull' });
    expect(kubeletEvents.backOffPull('x:1')).toEqual({ type: 'Normal', reason: 'BackOff', message: 'Back-off pulling image "x:1"' });
    expect(kubeletEvents.neverPull('x:1')).toEqual({ type: 'Warning', reason: 'ErrImageNeverPull', message: 'Container image "x:1" is not present with pull policy of Never' });
  });

  it('have the container lifecycle\'s and the prober\'s texts', () => {
    expect(kubeletEvents.created('app')).toEqual({ type: 'Normal', reason: 'Created', message: 'Created container app' });
    expect(kubeletEvents.started('app')).toEqual({ type: 'Normal', reason: 'Started', message: 'Started container app' });
    expect(kubeletEvents.killing(kubeletEvents.stopping('app'))).toEqual({ type: 'Normal', reason: 'Killing', message: 'Stopping container app' });
    expect(kubeletEvents.probeKill('app', 'liveness')).toBe('Container app failed liveness probe, will be restarted');
    expect(kubeletEvents.unhealthy('readiness', 'HTTP probe failed with statuscode: 503'))
      .toEqual({ type: 'Warning', reason: 'Unhealthy', message: 'Readiness probe failed: HTTP probe failed with statuscode: 503' });
    expect(kubeletEvents.unhealthy('startup', 'x').message).toBe('Startup probe failed: x');
    expect(kubeletEvents.backOffRestart('app', pod))
      .toEqual({ type: 'Warning', reason: 'BackOff', message: 'Back-off restarting failed container app in pod web_shop(0b6e-42)' });
    expect(kubeletEvents.failedSandbox('CNI ADD failed').message).toBe('Failed to create pod sandbox: CNI ADD failed');
  });

  it('have the DNS configurer\'s MissingClusterDNS texts, for the node and for the pod', () => {
    const text = 'kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.';
    expect(kubeletEvents.missingClusterDNSNode()).toEqual({ type: 'Warning', reason: 'MissingClusterDNS', message: text });
    expect(kubeletEvents.missingClusterDNSPod(pod)).toEqual({ type: 'Warning', reason: 'MissingClusterDNS', message: `pod: "web_shop(0b6e-42)". ${text}` });
  });

  it('have the node texts', () => {
    expect(kubeletEvents.starting()).toEqual({ type: 'Normal', reason: 'Starting', message: 'Starting kubelet.' });
    expect(kubeletEvents.nodeStatus('n1', 'NodeReady')).toEqual({ type: 'Normal', reason: 'NodeReady', message: 'Node n1 status is now: NodeReady' });
  });
});

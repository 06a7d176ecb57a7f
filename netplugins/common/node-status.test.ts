import type { Node } from 'kubernetes-types/core/v1.js';
import { FakeClusterClient } from '../../api/client/fake.js';
import { resources } from '../../api/client/types.js';
import { annotationsMissing, hasNetworkReady, markNetworkReady, networkReadyCondition, publishAnnotations } from './node-status.js';

describe('node status', () => {
  it('builds the NetworkUnavailable=False condition with a reason naming the mode', () => {
    expect(networkReadyCondition('vxlan', new Date('2026-01-02T03:04:05.678Z'))).toEqual({
      type: 'NetworkUnavailable', status: 'False', reason: 'K8tsVxlanIsUp', message: 'k8ts vxlan network plugin is running on this node',
      lastHeartbeatTime: '2026-01-02T03:04:05Z', lastTransitionTime: '2026-01-02T03:04:05Z',
    });
    expect(networkReadyCondition('routed', new Date()).reason).toBe('K8tsRoutedIsUp');
  });

  it('sees the network as up whatever the reason, and down when the condition is True or missing', () => {
    const with_ = (status: string): Node => ({ status: { conditions: [{ type: 'NetworkUnavailable', status, reason: 'Other' }] } });
    expect(hasNetworkReady(with_('False'))).toBe(true);
    expect(hasNetworkReady(with_('True'))).toBe(false);
    expect(hasNetworkReady({})).toBe(false);
    expect(hasNetworkReady(undefined)).toBe(false);
  });

  it('lists only the annotations that differ', () => {
    const node: Node = { metadata: { annotations: { a: '1', b: '2' } } };
    expect(annotationsMissing(node, { a: '1' })).toBeUndefined();
    expect(annotationsMissing(node, { a: '1', b: '3', c: '4' })).toEqual({ b: '3', c: '4' });
  });

  // That the condition merges with the kubelet's by type is the server's strategic merge patch,
  // checked against a real server in ../netplugin.itest.ts.
  it('writes annotations and the condition once', async () => {
    const client = new FakeClusterClient();
    await client.create<Node>(resources.nodes, undefined, { metadata: { name: 'n1', annotations: { keep: 'me' } } });
    await client.patch(resources.nodes, undefined, 'n1', 'merge', { status: { conditions: [{ type: 'Ready', status: 'True' }] } }, { subresource: 'status' });
    let node = await client.get<Node>(resources.nodes, undefined, 'n1');
    expect(await publishAnnotations(client, node, 'n1', { 'k8ts.io/backend-type': 'routed' })).toBe(true);
    expect(await markNetworkReady(client, node, 'n1', 'routed')).toBe(true);
    node = await client.get<Node>(resources.nodes, undefined, 'n1');
    expect(node.metadata?.annotations).toEqual({ keep: 'me', 'k8ts.io/backend-type': 'routed' });
    expect(node.status?.conditions?.find((c) => c.type === 'NetworkUnavailable')?.status).toBe('False');
    expect(await publishAnnotations(client, node, 'n1', { 'k8ts.io/backend-type': 'routed' })).toBe(false);
    expect(await markNetworkReady(client, node, 'n1', 'routed')).toBe(false);
  });
});

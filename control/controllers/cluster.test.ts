// Node IPAM, the garbage collector's decisions and leader election, against the fake API.
import type { Node } from 'kubernetes-types/core/v1.js';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import type { KubeObject } from '../../api/object.js';
import { parseCidr, formatCidr } from '../../api/cidr.js';
import { FakeClusterClient } from '../../api/client/fake.js';
import { resources } from '../../api/client/types.js';
import { newContext } from './context.js';
import { GarbageCollector, classifyDependent } from './garbagecollector.js';
import { LeaderElector, decideLease } from './leaderelection.js';
import { NodeIpamController, nextFreeBlock } from './nodeipam.js';

const tick = (ms = 10) => new Promise(r => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  for (let t = 0; t < ms && !cond(); t += 10) await tick();
  if (!cond()) throw new Error('condition not met');
}

describe('node IPAM', () => {
  it('hands out the first free /24', () => {
    const c = parseCidr('10.42.0.0/16');
    const used = new Set([parseCidr('10.42.0.0/24').network, parseCidr('10.42.1.0/24').network]);
    expect(formatCidr(nextFreeBlock(c, 24, used)!)).toBe('10.42.2.0/24');
    expect(nextFreeBlock(parseCidr('10.42.0.0/24'), 24, new Set([parseCidr('10.42.0.0/24').network]))).toBeUndefined();
  });

  it('never gives two nodes the same block and reuses a deleted node\'s block', async () => {
    const c = new FakeClusterClient();
    const ctx = newContext(c, { events: false });
    const ipam = new NodeIpamController(ctx, '10.42.0.0/16');
    for (let i = 0; i < 5; i++) await c.create<Node>(resources.nodes, undefined, { metadata: { name: `n${i}` } });
    await ctx.informers.start();
    ipam.start();
    await until(() => c.all<Node>(resources.nodes).every(n => n.spec?.podCIDR));
    const cidrs = c.all<Node>(resources.nodes).map(n => n.spec!.podCIDR);
    expect(new Set(cidrs).size).toBe(5);
    const freed = c.peek<Node>(resources.nodes, undefined, 'n0')!.spec!.podCIDR;
    await c.delete(resources.nodes, undefined, 'n0');
    await tick(20);
    await c.create<Node>(resources.nodes, undefined, { metadata: { name: 'late' } });
    await until(() => Boolean(c.peek<Node>(resources.nodes, undefined, 'late')?.spec?.podCIDR));
    expect(c.peek<Node>(resources.nodes, undefined, 'late')!.spec!.podCIDR).toBe(freed);
    await ipam.stop(); ctx.informers.stop();
  });
});

describe('garbage collector', () => {
  const dep = (refs: string[]): KubeObject => ({ metadata: { name: 'd', ownerReferences: refs.map(uid => ({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: uid, uid })) } });
  it('deletes a dependent whose owners are all gone and drops dangling references otherwise', () => {
    expect(classifyDependent(dep(['a']), new Map([['a', 'absent']]))).toEqual({ action: 'delete', foreground: false });
    expect(classifyDependent(dep(['a', 'b']), new Map([['a', 'absent'], ['b', 'present']]))).toMatchObject({ action: 'drop-refs' });
    expect(classifyDependent(dep(['a']), new Map([['a', 'present']]))).toEqual({ action: 'keep' });
    expect(classifyDependent(dep(['a']), new Map([['a', 'deleting-foreground']]))).toEqual({ action: 'delete', foreground: true });
  });

  it('background, foreground and orphan propagation', async () => {
    const c = new FakeClusterClient();
    const ctx = newContext(c, { events: false });
    const gc = new GarbageCollector(ctx);
    const owner = await c.create<KubeObject>(resources.replicasets, 'default', { metadata: { name: 'rs' }, spec: {} });
    const ref = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: owner.metadata!.uid!, controller: true, blockOwnerDeletion: true };
    await c.create(resources.pods, 'default', { metadata: { name: 'p1', ownerReferences: [ref] }, spec: {} });
    await ctx.informers.start();
    gc.start();
    // Foreground: the owner waits for its dependents.
    await c.delete(resources.replicasets, 'default', 'rs', { propagationPolicy: 'Foreground' });
    await until(() => !c.peek(resources.pods, 'default', 'p1') && !c.peek(resources.replicasets, 'default', 'rs'));
    // Orphan: dependents stay, without the reference.
    const o2 = await c.create<KubeObject>(resources.replicasets, 'default', { metadata: { name: 'rs2' }, spec: {} });
    await c.create(resources.pods, 'default', { metadata: { name: 'p2', ownerReferences: [{ ...ref, name: 'rs2', uid: o2.metadata!.uid! }] }, spec: {} });
    await tick(20);
    await c.delete(resources.replicasets, 'default', 'rs2', { propagationPolicy: 'Orphan' });
    await until(() => !c.peek(resources.replicasets, 'default', 'rs2'));
    expect(c.peek(resources.pods, 'default', 'p2')!.metadata!.ownerReferences).toEqual([]);
    // Background: the owner goes first, the dependent after.
    const o3 = await c.create<KubeObject>(resources.replicasets, 'default', { metadata: { name: 'rs3' }, spec: {} });
    await c.create(resources.pods, 'default', { metadata: { name: 'p3', ownerReferences: [{ ...ref, name: 'rs3', uid: o3.metadata!.uid! }] }, spec: {} });
    await tick(20);
    await c.delete(resources.replicasets, 'default', 'rs3');
    await until(() => !c.peek(resources.pods, 'default', 'p3'));
    await gc.stop(); ctx.informers.stop();
  });
});

describe('leader election', () => {
  it('decideLease takes a free or expired lease and waits on a live one', () => {
    const now = Date.parse('2026-01-01T00:01:00Z');
    expect(decideLease(undefined, 'a', now, 15, 'l', 'kube-system').action).toBe('acquire');
    const live: Lease = { spec: { holderIdentity: 'b', leaseDurationSeconds: 15, renewTime: '2026-01-01T00:00:50.000000Z' } };
    expect(decideLease(live, 'a', now, 15, 'l', 'kube-system')).toEqual({ action: 'wait', holder: 'b' });
    const expired: Lease = { spec: { holderIdentity: 'b', leaseDurationSeconds: 15, renewTime: '2026-01-01T00:00:40.000000Z', leaseTransitions: 2 } };
    const d = decideLease(expired, 'a', now, 15, 'l', 'kube-system');
    expect(d.action === 'acquire' && d.lease.spec).toMatchObject({ holderIdentity: 'a', leaseTransitions: 3 });
    expect(decideLease({ spec: { holderIdentity: 'a', renewTime: '2026-01-01T00:00:59.000000Z' } }, 'a', now, 15, 'l', 'kube-system').action).toBe('renew');
  });

  it('two candidates never both lead, and the other takes over when the leader stops', async () => {
    const c = new FakeClusterClient();
    const leading = new Set<string>();
    const make = (id: string) => new LeaderElector({ client: c, name: 'kube-controller-manager', identity: id, retryPeriodMs: 20, leaseDurationSeconds: 1, onStartedLeading: () => { leading.add(id); }, onStoppedLeading: () => { leading.delete(id); } });
    const a = make('a'), b = make('b');
    a.start(); b.start();
    await until(() => leading.size === 1);
    for (let i = 0; i < 10; i++) { await tick(20); expect(leading.size).toBe(1); }
    const first = [...leading][0]!;
    await (first === 'a' ? a : b).stop();
    await until(() => leading.size === 1 && !leading.has(first));
    await a.stop(); await b.stop();
  });
});

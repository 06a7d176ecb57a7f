// Node IPAM: one `spec.podCIDR` (a /24 by default) per Node from the cluster CIDR, as upstream's
// range allocator. The set of used blocks is recomputed from the Node cache on every sync (so a
// deleted Node's block is free again), plus the blocks this process has handed out but not yet
// seen come back in the cache, so two Nodes never get the same block. One worker: allocation is
// sequential by design. podCIDR is immutable once set, so a Node that has one keeps it.
import type { Node } from 'kubernetes-types/core/v1.js';
import { formatCidr, parseCidr, parseCidrSloppy, type Cidr } from '../../api/cidr.js';
import { isNotFound } from '../../api/client/rest.js';
import { resources, splitKey } from '../../api/client/types.js';
import type { Informer } from '../../api/client/informer.js';
import type { ControllerContext } from './context.js';
import { Controller } from './runtime.js';

/** Pure: the first free `maskSize` block of `cluster` not in `used` (network addresses). */
export function nextFreeBlock(cluster: Cidr, maskSize: number, used: ReadonlySet<bigint>): Cidr | undefined {
  const bits = cluster.family === 4 ? 32 : 128;
  if (maskSize < cluster.prefix || maskSize > bits) return undefined;
  const count = 1n << BigInt(maskSize - cluster.prefix);
  const step = 1n << BigInt(bits - maskSize);
  for (let i = 0n; i < count; i++) {
    const network = cluster.network + i * step;
    if (!used.has(network)) return { family: cluster.family, network, prefix: maskSize };
  }
  return undefined;
}

export class NodeIpamController {
  readonly controller: Controller;
  private readonly nodes: Informer<Node>;
  private readonly cluster: Cidr;
  /** Blocks handed out and not yet observed on a Node in the cache: node name → network. */
  private readonly pending = new Map<string, bigint>();

  constructor(private readonly ctx: ControllerContext, clusterCidr: string, private readonly maskSize = 24) {
    this.cluster = parseCidr(clusterCidr);
    this.nodes = ctx.informers.for<Node>(resources.nodes);
    this.controller = new Controller({ name: 'NodeIpam', workers: 1, clock: ctx.clock, logger: ctx.logger, resyncMs: 60_000, resyncKeys: () => this.nodes.keys() }, key => this.sync(key));
    this.nodes.on({
      add: n => this.controller.enqueueObject(n),
      update: (_, n) => { if (!n.spec?.podCIDR) this.controller.enqueueObject(n); else this.pending.delete(n.metadata?.name ?? ''); },
      delete: n => this.pending.delete(n.metadata?.name ?? ''),
    });
  }

  start(): void { this.controller.start(); }
  stop(): Promise<void> { return this.controller.stop(); }

  private used(): Set<bigint> {
    const used = new Set<bigint>(this.pending.values());
    for (const n of this.nodes.list()) {
      for (const c of n.spec?.podCIDRs ?? (n.spec?.podCIDR ? [n.spec.podCIDR] : [])) {
        const p = parseCidrSloppy(c);
        if (p && p.family === this.cluster.family) used.add(p.network);
      }
    }
    return used;
  }

  async sync(key: string): Promise<void> {
    const { name } = splitKey(key);
    const node = this.nodes.getBy(undefined, name);
    if (!node || node.spec?.podCIDR) { if (node) this.pending.delete(name); return; }
    const have = this.pending.get(name);
    const block = have !== undefined ? { family: this.cluster.family, network: have, prefix: this.maskSize } : nextFreeBlock(this.cluster, this.maskSize, this.used());
    if (!block) {
      this.ctx.recorder.event({ ...node, apiVersion: 'v1', kind: 'Node' }, 'Warning', 'CIDRNotAvailable', `Node ${name} status is now: CIDRNotAvailable`);
      throw new Error(`no free /${this.maskSize} left in the cluster CIDR ${formatCidr(this.cluster)} for node "${name}"`);
    }
    this.pending.set(name, block.network);
    const cidr = formatCidr(block);
    try {
      await this.ctx.client.patch(resources.nodes, undefined, name, 'merge', { spec: { podCIDR: cidr, podCIDRs: [cidr] } });
      this.ctx.recorder.event({ ...node, apiVersion: 'v1', kind: 'Node' }, 'Normal', 'CIDRAssignmentSucceeded', `Node ${name} got podCIDR ${cidr}`);
    } catch (err) {
      this.pending.delete(name);
      if (!isNotFound(err)) throw err;
    }
  }
}

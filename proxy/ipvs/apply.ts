// Applies compiled IPVS state: addresses on kube-ipvs0, virtual/real servers over generic netlink,
// and the masquerade/filter table over nfnetlink.
//
// Design notes. Thin: planning is pure (./plan.ts). The applier remembers what its last sync left
// (`have`); the first sync, a periodic full one, and any sync after a failure start from a dump of
// the kernel instead (IPVS is not transactional, so after a refused op only the kernel knows what
// stuck). Order within a sync: bind addresses, IPVS ops, the nf_tables batch, unbind addresses —
// so a VIP is local before its virtual server exists and stays local until it is gone.
// `openIpvsApplier` also sets what IPVS mode needs from the kernel (as upstream): the conntrack
// integration (net.ipv4.vs.conntrack=1, without which nf_nat cannot masquerade IPVS traffic) and
// dropping connections to removed real servers at once (expire_nodest_conn=1).
// Graceful termination (./plan.ts): TCP real servers the plan retires stay at weight 0 in a
// terminating list; each sync first deletes those IPVS counts no connection to any more (a dump of
// their virtual server's real servers), or that waited longer than `gracefulTimeoutMs`. Upstream
// waits for the connections alone; the timeout (default 900 s, IPVS's own idle timeout for an
// established TCP connection) bounds how long a real server whose connections never close lingers.
import { ensureDummy, listDeviceAddrs, syncDeviceAddrs, deleteDummy, IPVS_DEVICE } from '../../kernel/ipvs/device.js';
import type { ApplyStats, IpvsSocket } from '../../kernel/ipvs/socket.js';
import { IpvsSocket as IpvsSocketImpl } from '../../kernel/ipvs/socket.js';
import { NfTablesSocket } from '../../kernel/nftables/socket.js';
import { openRtnl, writeSysctl, type Rtnl } from '../../kernel/rtnl/index.js';
import { NftablesApplier } from '../nftables/apply.js';
import { IPVS_TABLE, vsKey, type IpvsState } from './compile.js';
import { observedServices, planIpvs, terminatingKey, type IpvsObserved, type TerminatingDest } from './plan.js';
import type { IpvsOp } from '../../kernel/ipvs/encode.js';

export type IpvsKernel = Pick<IpvsSocket, 'apply' | 'listServices' | 'listDests'>;

export const DEFAULT_GRACEFUL_TIMEOUT_MS = 900_000;

export interface IpvsSyncResult {
  readonly full: boolean;
  /** Terminating real servers deleted before this sync's plan (drained or timed out). */
  readonly reaped: number;
  readonly ops: number;
  readonly bound: number;
  readonly unbound: number;
  readonly observeMs: number;
  readonly ipvsMs: number;
  readonly addrMs: number;
  readonly nftMs: number;
  readonly ipvs: ApplyStats;
}

export class IpvsApplier {
  private have: IpvsObserved | undefined;
  private readonly nft: NftablesApplier;
  /** Real servers at weight 0 waiting for their connections to end, by `terminatingKey`. */
  private readonly terminating = new Map<string, TerminatingDest & { since: number }>();

  constructor(
    private readonly ipvs: IpvsKernel,
    private readonly rtnl: Rtnl,
    nftSock: Pick<NfTablesSocket, 'commit'>,
    private readonly closers: readonly (() => void)[] = [],
  ) {
    this.nft = new NftablesApplier(nftSock);
  }

  /** What the kernel holds now: every virtual server with its real servers, and kube-ipvs0's addresses. */
  async observe(): Promise<IpvsObserved> {
    const list = [];
    for (const vs of await this.ipvs.listServices()) list.push({ vs, dests: await this.ipvs.listDests(vs) });
    return { services: observedServices(list), boundAddrs: await listDeviceAddrs(this.rtnl) };
  }

  /** Brings the kernel to `want`. `ownedAddrs`: node IPs (their NodePort virtual servers are ours). */
  async sync(want: IpvsState, opts: { full?: boolean; ownedAddrs?: readonly string[]; gracefulTimeoutMs?: number; now?: number } = {}): Promise<IpvsSyncResult> {
    const t0 = performance.now();
    const now = opts.now ?? Date.now();
    const reaped = await this.reap(now, opts.gracefulTimeoutMs ?? DEFAULT_GRACEFUL_TIMEOUT_MS);
    const full = opts.full === true || this.have === undefined;
    const have = full ? await this.observe() : this.have!;
    const t1 = performance.now();
    const plan = planIpvs(want, have, opts.ownedAddrs ?? [], new Set(this.terminating.keys()));
    this.have = undefined; // until this sync has fully succeeded, only the kernel knows
    await ensureDummy(this.rtnl);
    await syncDeviceAddrs(this.rtnl, plan.bind, []);
    const t2 = performance.now();
    const ipvs = await this.ipvs.apply(plan.ops);
    const t3 = performance.now();
    for (const t of plan.revive) this.terminating.delete(terminatingKey(t.service, t.dest));
    for (const t of plan.terminate) this.terminating.set(terminatingKey(t.service, t.dest), { ...t, since: now });
    // A virtual server that is gone took its real servers with it.
    for (const [k, t] of this.terminating) if (!want.services.has(vsKey(t.service))) this.terminating.delete(k);
    await this.nft.sync(want.ruleset, { full });
    const t4 = performance.now();
    await syncDeviceAddrs(this.rtnl, [], plan.unbind);
    const t5 = performance.now();
    this.have = { services: want.services, boundAddrs: want.bindAddrs };
    return {
      full, reaped, ops: plan.ops.length, bound: plan.bind.length, unbound: plan.unbind.length,
      observeMs: t1 - t0, addrMs: (t2 - t1) + (t5 - t4), ipvsMs: t3 - t2, nftMs: t4 - t3, ipvs,
    };
  }

  /** Real servers at weight 0 still waiting for their connections to end. */
  get terminatingCount(): number { return this.terminating.size; }

  /**
   * Deletes the terminating real servers that have no connection left (IPVS's active and inactive
   * counters are both 0) or waited `timeoutMs`; forgets those already gone from the kernel.
   */
  private async reap(now: number, timeoutMs: number): Promise<number> {
    if (this.terminating.size === 0) return 0;
    const byVs = new Map<string, (TerminatingDest & { since: number; key: string })[]>();
    for (const [key, t] of this.terminating) {
      const k = vsKey(t.service);
      const l = byVs.get(k);
      if (l) l.push({ ...t, key }); else byVs.set(k, [{ ...t, key }]);
    }
    const ops: IpvsOp[] = [];
    const done: string[] = [];
    for (const list of byVs.values()) {
      const present = new Map((await this.ipvs.listDests(list[0]!.service)).map((d) => [`${d.address}:${d.port}`, d]));
      for (const t of list) {
        const d = present.get(`${t.dest.address}:${t.dest.port}`);
        if (!d) { done.push(t.key); continue; }
        if (d.weight !== 0) continue; // given its weight back by someone: not ours to delete
        if (d.activeConns + d.inactiveConns === 0 || now - t.since >= timeoutMs) {
          ops.push({ op: 'delDest', service: t.service, dest: t.dest });
          done.push(t.key);
        }
      }
    }
    if (ops.length) await this.ipvs.apply(ops);
    for (const k of done) this.terminating.delete(k);
    return ops.length;
  }

  /** Removes what IPVS mode programmed: our virtual servers, the table, kube-ipvs0. */
  async cleanup(ownedAddrs: readonly string[] = []): Promise<void> {
    const have = await this.observe();
    const plan = planIpvs({ services: new Map(), bindAddrs: [] }, have, ownedAddrs);
    await this.ipvs.apply(plan.ops);
    await this.nft.cleanup(IPVS_TABLE);
    await deleteDummy(this.rtnl.netns, IPVS_DEVICE);
    this.have = undefined;
  }

  close(): void {
    for (const c of this.closers) c();
    this.rtnl.close();
  }
}

/**
 * Opens everything IPVS mode needs in `netns` (or here). Fails with IpvsError code NoIpvs, with a
 * message saying so, on a kernel without IPVS.
 */
export async function openIpvsApplier(netns?: string): Promise<IpvsApplier> {
  const ipvs = await IpvsSocketImpl.open(netns);
  try {
    writeSysctl('net/ipv4/vs/conntrack', '1', netns);
    writeSysctl('net/ipv4/vs/expire_nodest_conn', '1', netns);
  } catch (e) {
    ipvs.close();
    throw e;
  }
  const rtnl = openRtnl(netns);
  const nft = NfTablesSocket.open(netns);
  return new IpvsApplier(ipvs, rtnl, nft, [() => ipvs.close(), () => nft.close()]);
}

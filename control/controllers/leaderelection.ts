// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection: a candidate
// takes the lease when it is free or expired (renewTime + leaseDurationSeconds in the past),
// renews it every retry period while it holds it, and gives up leadership when it cannot renew
// within the renew deadline. The decision is pure (`decideLease`); writes use the lease's
// resourceVersion, so two candidates racing for it cannot both win: one gets 409 Conflict.
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import type { KubeObject } from '../../api/object.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../api/client/rest.js';
import { resources, type ClusterClient } from '../../api/client/types.js';
import { realClock, type Clock, type Logger } from './runtime.js';

const microTime = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');

export type LeaseDecision = { action: 'wait'; holder: string } | { action: 'acquire' | 'renew'; lease: Lease };

/** Pure: what a candidate does with the lease as it is now (undefined: no lease yet). */
export function decideLease(lease: Lease | undefined, identity: string, nowMs: number, durationSeconds: number, name: string, namespace: string): LeaseDecision {
  const spec = lease?.spec ?? {};
  const holder = spec.holderIdentity ?? '';
  const renewed = spec.renewTime ? Date.parse(spec.renewTime) : 0;
  const expired = renewed + (spec.leaseDurationSeconds ?? durationSeconds) * 1000 <= nowMs;
  if (holder && holder !== identity && !expired) return { action: 'wait', holder };
  const mine = holder === identity;
  const next: Lease = {
    ...(lease ?? {}),
    metadata: { ...(lease?.metadata ?? {}), name, namespace },
    spec: {
      holderIdentity: identity,
      leaseDurationSeconds: durationSeconds,
      acquireTime: mine && spec.acquireTime ? spec.acquireTime : microTime(nowMs),
      renewTime: microTime(nowMs),
      leaseTransitions: (spec.leaseTransitions ?? 0) + (mine || !lease ? 0 : 1),
    },
  };
  return { action: mine ? 'renew' : 'acquire', lease: next };
}

export interface LeaderElectorOptions {
  client: ClusterClient;
  name: string;
  namespace?: string;
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock?: Clock;
  logger?: Logger;
  onStartedLeading: () => void | Promise<void>;
  onStoppedLeading: () => void | Promise<void>;
}

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private lastRenew = 0;
  private timer: unknown;
  private readonly clock: Clock;

  constructor(private readonly o: LeaderElectorOptions) { this.clock = o.clock ?? realClock; }

  get isLeader(): boolean { return this.leading; }

  start(): void { void this.tick(); }

  private async tryOnce(): Promise<boolean> {
    const ns = this.o.namespace ?? 'kube-system';
    let lease: Lease | undefined;
    try { lease = await this.o.client.get<Lease>(resources.leases, ns, this.o.name); } catch (err) { if (!isNotFound(err)) throw err; }
    const d = decideLease(lease, this.o.identity, this.clock.now(), this.o.leaseDurationSeconds ?? 15, this.o.name, ns);
    if (d.action === 'wait') return false;
    try {
      if (!lease) await this.o.client.create(resources.leases, ns, d.lease as KubeObject);
      else await this.o.client.update(resources.leases, d.lease as KubeObject);
      return true;
    } catch (err) {
      if (isConflict(err) || isAlreadyExists(err)) return false;
      throw err;
    }
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    let ok = false;
    try { ok = await this.tryOnce(); } catch (err) { this.o.logger?.warn({ err, lease: this.o.name }, `lease "${this.o.name}": ${(err as Error).message}`); }
    if (this.stopped) return;
    const now = this.clock.now();
    if (ok) {
      this.lastRenew = now;
      if (!this.leading) {
        this.leading = true;
        this.o.logger?.info({ lease: this.o.name, identity: this.o.identity }, `became leader on lease "${this.o.name}"`);
        await this.o.onStartedLeading();
      }
    } else if (this.leading && now - this.lastRenew > (this.o.renewDeadlineMs ?? 10_000)) {
      this.leading = false;
      this.o.logger?.warn({ lease: this.o.name, identity: this.o.identity }, `lost leadership of lease "${this.o.name}"`);
      await this.o.onStoppedLeading();
    }
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => void this.tick(), this.o.retryPeriodMs ?? 2000);
  }

  /** Stops campaigning; a leader releases the lease so another can take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    if (this.leading) {
      this.leading = false;
      await this.o.onStoppedLeading();
      try {
        const ns = this.o.namespace ?? 'kube-system';
        const lease = await this.o.client.get<Lease>(resources.leases, ns, this.o.name);
        if (lease.spec?.holderIdentity === this.o.identity) {
          await this.o.client.update(resources.leases, { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(this.clock.now() - 1000) } } as KubeObject);
        }
      } catch { /* best effort */ }
    }
  }
}

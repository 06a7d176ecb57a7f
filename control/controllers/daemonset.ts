// DaemonSet (apps/v1): one pod on every eligible node, as upstream's daemon controller.
//
// Eligibility (`nodeShouldRunDaemonPod`) is upstream's: the template's nodeName, nodeSelector and
// required node affinity must match the node, and its taints must be tolerated — counting the
// tolerations the controller adds to every daemon pod (not-ready and unreachable NoExecute; disk,
// memory and PID pressure and unschedulable NoSchedule; network-unavailable for host-network
// pods). A node with an untolerated NoExecute taint also loses the pod it has.
// The controller does not bind: as upstream since 1.12, each pod gets a required node affinity
// `matchFields metadata.name In [node]` in place of the template's, and the scheduler binds it.
//
// Revisions: the template is snapshotted in a ControllerRevision named `<ds>-<hash>` whose data is
// the strategic-merge patch `{"spec":{"template":{…,"$patch":"replace"}}}` (what `kubectl
// rollout undo` applies); pods carry `controller-revision-hash` and `pod-template-generation`.
// RollingUpdate with maxSurge 0 deletes old pods — unavailable ones first, then available ones
// while fewer than maxUnavailable nodes are unavailable — and the manage step recreates them from
// the new template once they are gone. With maxSurge > 0 (upstream's surge mode) a new pod starts
// beside the old one on up to maxSurge nodes at a time, and the old one goes once the new one is
// available. OnDelete never deletes.
// The hash is the Deployment controller's FNV template hash (`computeHash`), so both kinds agree.
//
// `planDaemonSet` is pure; the shell creates and deletes pods, with expectations as the
// ReplicaSet controller, and backs off per node before deleting a failed daemon pod again.
import type { ControllerRevision, DaemonSet, DaemonSetStatus } from 'kubernetes-types/apps/v1.js';
import type { Affinity, Node, Pod, PodTemplateSpec, Taint, Toleration } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { fromMetaLabelSelector, labelsMatch } from '../../api/selectors.js';
import { isAlreadyExists, isNotFound } from '../../api/client/rest.js';
import { resources } from '../../api/client/types.js';
import type { Informer } from '../../api/client/informer.js';
import { termMatches, tolerates } from '../scheduler/plugins.js';
import type { ControllerContext } from './context.js';
import { computeHash, scaledValue } from './deployment.js';
import { isPodAvailable, isPodReady, msUntilAvailable, podFromTemplate } from './pods.js';
import { Controller, Expectations, byCreation, controllerRef, newControllerRef, watchControlled, watchOwners } from './runtime.js';

export const revisionHashLabel = 'controller-revision-hash';
export const templateGenerationLabel = 'pod-template-generation';

/** Upstream's AddOrUpdateDaemonPodTolerations. */
export function daemonTolerations(template: PodTemplateSpec | undefined): Toleration[] {
  const out = [...(template?.spec?.tolerations ?? [])];
  const add = (name: string, effect: string) => {
    const key = `node.kubernetes.io/${name}`;
    if (!out.some(t => t.key === key && t.operator === 'Exists' && t.effect === effect)) out.push({ key, operator: 'Exists', effect });
  };
  add('not-ready', 'NoExecute');
  add('unreachable', 'NoExecute');
  add('disk-pressure', 'NoSchedule');
  add('memory-pressure', 'NoSchedule');
  add('pid-pressure', 'NoSchedule');
  add('unschedulable', 'NoSchedule');
  if (template?.spec?.hostNetwork) add('network-unavailable', 'NoSchedule');
  return out;
}

/** Upstream's nodeShouldRunDaemonPod. */
export function nodeShouldRunDaemonPod(node: Node, ds: DaemonSet): { shouldRun: boolean; shouldContinueRunning: boolean } {
  const spec = ds.spec?.template?.spec;
  const name = node.metadata?.name ?? '';
  const labels = node.metadata?.labels ?? {};
  if (spec?.nodeName && spec.nodeName !== name) return { shouldRun: false, shouldContinueRunning: false };
  for (const [k, v] of Object.entries(spec?.nodeSelector ?? {})) if (labels[k] !== v) return { shouldRun: false, shouldContinueRunning: false };
  const required = spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (required && !required.nodeSelectorTerms.some(t => termMatches(t, labels, name))) return { shouldRun: false, shouldContinueRunning: false };
  const tols = daemonTolerations(ds.spec?.template);
  const untolerated = (t: Taint) => (t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !tols.some(x => tolerates(x, t));
  const taints = node.spec?.taints ?? [];
  if (taints.some(untolerated)) return { shouldRun: false, shouldContinueRunning: !taints.some(t => t.effect === 'NoExecute' && untolerated(t)) };
  return { shouldRun: true, shouldContinueRunning: true };
}

/** Upstream's ReplaceDaemonSetPodNodeNameNodeAffinity. */
export function pinToNode(affinity: Affinity | undefined, node: string): Affinity {
  const term = { matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] };
  const a: Affinity = JSON.parse(JSON.stringify(affinity ?? {})) as Affinity;
  a.nodeAffinity = { ...(a.nodeAffinity ?? {}), requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [term] } };
  return a;
}

/** The node a daemon pod is for: its nodeName, else the node its affinity pins it to. */
export function targetNode(p: Pod): string | undefined {
  if (p.spec?.nodeName) return p.spec.nodeName;
  for (const t of p.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []) {
    const f = t.matchFields?.find(m => m.key === 'metadata.name' && m.operator === 'In' && m.values?.length === 1);
    if (f) return f.values![0];
  }
  return undefined;
}

export function revisionData(template: PodTemplateSpec | undefined): unknown {
  return { spec: { template: { ...JSON.parse(JSON.stringify(template ?? {})) as object, $patch: 'replace' } } };
}

export interface DaemonSetPlan {
  /** Nodes that need a daemon pod. */
  create: string[];
  delete: Pod[];
  /** Failed daemon pods to delete (the shell applies a per-node back-off). */
  failed: { pod: Pod; node: string }[];
  status: DaemonSetStatus;
  requeueAfterMs?: number;
}

/** Pure: one sync of a DaemonSet over all nodes and the pods it controls; `hash` is the current revision's. */
export function planDaemonSet(ds: DaemonSet, nodes: readonly Node[], owned: readonly Pod[], hash: string, nowMs: number): DaemonSetPlan {
  const minReady = ds.spec?.minReadySeconds ?? 0;
  const byNode = new Map<string, Pod[]>();
  const orphaned: Pod[] = [];
  for (const p of owned) {
    const n = targetNode(p);
    if (n === undefined) { orphaned.push(p); continue; }
    byNode.set(n, [...(byNode.get(n) ?? []), p]);
  }
  const create: string[] = [];
  const del = new Set<Pod>(orphaned.filter(p => !p.metadata?.deletionTimestamp));
  const failed: DaemonSetPlan['failed'] = [];
  const nodeNames = new Set(nodes.map(n => n.metadata?.name ?? ''));
  let desired = 0, current = 0, misscheduled = 0, ready = 0, updated = 0, available = 0;
  let soonest: number | undefined;
  const isUpdated = (p: Pod) => p.metadata?.labels?.[revisionHashLabel] === hash;
  const eligibility = new Map(nodes.map(node => [node.metadata?.name ?? '', nodeShouldRunDaemonPod(node, ds)]));
  const strategy = ds.spec?.updateStrategy;
  const rolling = (strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
  const numberToSchedule = [...eligibility.values()].filter(e => e.shouldRun).length;
  const maxSurge = rolling ? scaledValue(strategy?.rollingUpdate?.maxSurge as number | string | undefined, numberToSchedule, true, '0') : 0;

  for (const node of nodes) {
    const name = node.metadata?.name ?? '';
    const pods = byNode.get(name) ?? [];
    const live = pods.filter(p => !p.metadata?.deletionTimestamp);
    const { shouldRun, shouldContinueRunning } = eligibility.get(name)!;
    if (shouldRun) {
      desired++;
      if (live.length) {
        current++;
        const p = [...live].sort(byCreation)[0]!;
        if (isPodReady(p)) ready++;
        if (isUpdated(p)) updated++;
        if (isPodAvailable(p, minReady, nowMs)) available++;
        const ms = msUntilAvailable(p, minReady, nowMs);
        if (ms !== undefined) soonest = Math.min(soonest ?? ms, ms);
      }
    } else if (live.length) misscheduled++;

    if (shouldRun && pods.length === 0) create.push(name);
    else if (shouldContinueRunning) {
      const running: Pod[] = [];
      for (const p of live) {
        if (p.status?.phase === 'Failed') failed.push({ pod: p, node: name });
        else if (p.status?.phase === 'Succeeded') del.add(p);
        else running.push(p);
      }
      running.sort(byCreation);
      if (maxSurge === 0) {
        // One pod per node: all but the oldest go.
        for (const p of running.slice(1)) del.add(p);
      } else {
        // Surging: an old and a new pod may share a node while the new one is not ready yet.
        let oldestNew: Pod | undefined, oldestOld: Pod | undefined;
        for (const p of running) {
          if (isUpdated(p) && !oldestNew) oldestNew = p;
          else if (!isUpdated(p) && !oldestOld) oldestOld = p;
          else del.add(p);
        }
        if (oldestNew && oldestOld && (!isPodReady(oldestOld) || (isPodReady(oldestNew) && minReady === 0))) del.add(oldestOld);
      }
    } else for (const p of live) del.add(p);
  }
  // Pods for nodes that no longer exist.
  for (const [n, pods] of byNode) if (!nodeNames.has(n)) for (const p of pods) if (!p.metadata?.deletionTimestamp) del.add(p);

  // Rolling update with maxSurge: start new pods beside old available ones (at most maxSurge at
  // a time, or at once where the old one is unavailable); an old pod goes once its new one is available.
  if (rolling && maxSurge > 0) {
    let numSurge = 0;
    const allowed: string[] = [], candidates: string[] = [];
    for (const [name, all] of byNode) {
      const e = eligibility.get(name);
      if (!e) continue;
      const pods = all.filter(p => !p.metadata?.deletionTimestamp && !del.has(p) && p.status?.phase !== 'Failed');
      const news = pods.filter(isUpdated), olds = pods.filter(p => !isUpdated(p));
      if (news.length > 1 || olds.length > 1) { numSurge++; continue; }
      const [nw] = news, [old] = olds;
      if (!old) continue;
      if (!nw) {
        if (!isPodAvailable(old, minReady, nowMs)) {
          if (!e.shouldRun) del.add(old); else allowed.push(name);
        } else if (numSurge < maxSurge) candidates.push(name);
      } else if (!isPodAvailable(nw, minReady, nowMs)) numSurge++;
      else del.add(old);
    }
    create.push(...allowed, ...candidates.slice(0, Math.max(0, Math.min(maxSurge - numSurge, candidates.length))));
  } else if (rolling) {
    // Rolling update: replace old pods within maxUnavailable.
    let maxUnavailable = scaledValue(strategy?.rollingUpdate?.maxUnavailable as number | string | undefined, desired, true, '1');
    if (maxUnavailable < 1) maxUnavailable = 1;
    let unavailable = 0;
    const replace: Pod[] = [], candidates: Pod[] = [];
    for (const node of nodes) {
      const pods = (byNode.get(node.metadata?.name ?? '') ?? []).filter(p => !p.metadata?.deletionTimestamp && !del.has(p) && p.status?.phase !== 'Failed');
      if (!eligibility.get(node.metadata?.name ?? '')?.shouldRun) continue;
      if (pods.length !== 1) { unavailable++; continue; }
      const p = pods[0]!;
      if (isUpdated(p)) { if (!isPodAvailable(p, minReady, nowMs)) unavailable++; continue; }
      if (!isPodAvailable(p, minReady, nowMs)) replace.push(p);
      else candidates.push(p);
    }
    const room = Math.max(0, Math.min(maxUnavailable - unavailable, candidates.length));
    for (const p of [...replace, ...candidates.slice(0, room)]) del.add(p);
  }

  const status: DaemonSetStatus = {
    currentNumberScheduled: current, numberMisscheduled: misscheduled, desiredNumberScheduled: desired, numberReady: ready,
    observedGeneration: ds.metadata?.generation ?? 0,
    updatedNumberScheduled: updated, numberAvailable: available,
  };
  if (desired - available > 0) status.numberUnavailable = desired - available;
  if (ds.status?.collisionCount !== undefined) status.collisionCount = ds.status.collisionCount;
  if (!status.updatedNumberScheduled) delete status.updatedNumberScheduled;
  if (!status.numberAvailable) delete status.numberAvailable;
  return { create, delete: [...del], failed, status, ...(soonest !== undefined ? { requeueAfterMs: soonest + 50 } : {}) };
}

/** The pod for one node. */
export function daemonPod(ds: DaemonSet, node: string, hash: string): Pod {
  const ref = newControllerRef(ds as KubeObject, 'apps/v1', 'DaemonSet');
  const pod = podFromTemplate(ds.spec?.template, ds.metadata?.namespace ?? 'default', ds.metadata?.name ?? '', ref);
  pod.metadata!.labels = { ...(pod.metadata?.labels ?? {}), [revisionHashLabel]: hash, [templateGenerationLabel]: String(ds.metadata?.generation ?? 1) };
  pod.spec!.affinity = pinToNode(pod.spec?.affinity, node);
  pod.spec!.tolerations = daemonTolerations(ds.spec?.template);
  return pod;
}

const failedBackoffBaseMs = 1000;
const failedBackoffMaxMs = 15 * 60_000;

export class DaemonSetController {
  readonly controller: Controller;
  readonly expectations: Expectations;
  private readonly daemonsets: Informer<DaemonSet>;
  private readonly pods: Informer<Pod>;
  private readonly nodes: Informer<Node>;
  private readonly revisions: Informer<ControllerRevision>;
  /** ds key + node → the earliest time the next failed pod there may be deleted, and the delay. */
  private readonly failedBackoff = new Map<string, { until: number; delay: number }>();

  constructor(private readonly ctx: ControllerContext) {
    this.daemonsets = ctx.informers.for<DaemonSet>(resources.daemonsets);
    this.pods = ctx.informers.for<Pod>(resources.pods);
    this.nodes = ctx.informers.for<Node>(resources.nodes);
    this.revisions = ctx.informers.for<ControllerRevision>(resources.controllerrevisions);
    this.expectations = new Expectations(() => ctx.clock.now());
    this.controller = new Controller({ name: 'DaemonSet', workers: ctx.workers ?? 2, clock: ctx.clock, logger: ctx.logger, resyncMs: 30_000, resyncKeys: () => this.daemonsets.keys() }, key => this.sync(key));
    watchOwners(this.daemonsets, this.controller, this.expectations);
    watchControlled(this.pods, { kind: 'DaemonSet', controller: this.controller, expectations: this.expectations, owner: key => this.daemonsets.get(key) });
    // Any node change may change where daemons run.
    const all = () => { for (const k of this.daemonsets.keys()) this.controller.enqueue(k); };
    this.nodes.on({
      add: all, delete: all,
      update: (a, b) => {
        if (JSON.stringify(a.metadata?.labels) !== JSON.stringify(b.metadata?.labels) || JSON.stringify(a.spec?.taints) !== JSON.stringify(b.spec?.taints)) all();
      },
    });
  }

  start(): void { this.controller.start(); }
  stop(): Promise<void> { return this.controller.stop(); }

  /** The current revision's hash, creating or renumbering its ControllerRevision; old ones beyond the limit go. */
  private async syncRevisions(ds: DaemonSet, owned: readonly Pod[]): Promise<string> {
    const c = this.ctx.client;
    const ns = ds.metadata?.namespace ?? 'default';
    const revs = this.revisions.byIndex('controller', ds.metadata?.uid ?? '');
    const data = JSON.stringify(revisionData(ds.spec?.template));
    const max = Math.max(0, ...revs.map(r => r.revision ?? 0));
    let cur = revs.find(r => JSON.stringify(r.data) === data);
    const hash = cur?.metadata?.labels?.[revisionHashLabel] ?? computeHash(ds.spec?.template, ds.status?.collisionCount);
    if (cur && (cur.revision ?? 0) < max) {
      // Rolling back to an older template makes its revision the newest, as upstream.
      cur = await c.update<ControllerRevision>(resources.controllerrevisions, { ...cur, revision: max + 1 });
    } else if (!cur) {
      const rev: ControllerRevision = {
        apiVersion: 'apps/v1', kind: 'ControllerRevision',
        metadata: { name: `${ds.metadata?.name}-${hash}`, namespace: ns, labels: { ...(ds.spec?.template?.metadata?.labels ?? {}), [revisionHashLabel]: hash }, ownerReferences: [newControllerRef(ds as KubeObject, 'apps/v1', 'DaemonSet')] },
        data: JSON.parse(data) as object, revision: max + 1,
      };
      try { cur = await c.create(resources.controllerrevisions, ns, rev); } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        const other = await c.get<ControllerRevision>(resources.controllerrevisions, ns, rev.metadata!.name!);
        if (JSON.stringify(other.data) !== data || controllerRef(other)?.uid !== ds.metadata?.uid) {
          // A hash collision: bump collisionCount, and the next sync hashes differently.
          await c.update(resources.daemonsets, { ...ds, status: { ...(ds.status ?? {}), collisionCount: (ds.status?.collisionCount ?? 0) + 1 } } as KubeObject, { subresource: 'status' });
          throw err;
        }
        cur = other;
      }
    }
    // History: revisions no live pod uses, oldest first, beyond revisionHistoryLimit.
    const inUse = new Set(owned.map(p => p.metadata?.labels?.[revisionHashLabel]));
    const old = revs.filter(r => r.metadata?.name !== cur?.metadata?.name && !inUse.has(r.metadata?.labels?.[revisionHashLabel])).sort((a, b) => (a.revision ?? 0) - (b.revision ?? 0));
    const limit = ds.spec?.revisionHistoryLimit ?? 10;
    for (const r of old.slice(0, Math.max(0, old.length - limit))) {
      try { await c.delete(resources.controllerrevisions, ns, r.metadata?.name ?? ''); } catch (err) { if (!isNotFound(err)) throw err; }
    }
    return hash;
  }

  async sync(key: string): Promise<void> {
    const ds = this.daemonsets.get(key);
    if (!ds) { this.expectations.forget(key); return; }
    if (ds.metadata?.deletionTimestamp) return;
    const c = this.ctx.client;
    const ns = ds.metadata?.namespace ?? 'default';
    const owner = ds as KubeObject;
    const selector = fromMetaLabelSelector(ds.spec?.selector);
    const owned = this.pods.byIndex('controller', ds.metadata?.uid ?? '').filter(p => labelsMatch(selector, p.metadata?.labels));
    const hash = await this.syncRevisions(ds, owned);
    const now = this.ctx.clock.now();
    const plan = planDaemonSet(ds, this.nodes.list(), owned, hash, now);
    const rec = this.ctx.recorder;
    let requeue = plan.requeueAfterMs;

    if (this.expectations.satisfied(key)) {
      const toDelete = [...plan.delete];
      for (const { pod, node } of plan.failed) {
        const bk = `${key}/${node}`;
        const b = this.failedBackoff.get(bk);
        if (b && b.until > now) { requeue = Math.min(requeue ?? Infinity, b.until - now + 50); continue; }
        const delay = b ? Math.min(b.delay * 2, failedBackoffMaxMs) : failedBackoffBaseMs;
        this.failedBackoff.set(bk, { until: now + delay, delay });
        rec.event(owner, 'Warning', 'FailedDaemonPod', `Found failed daemon pod ${ns}/${pod.metadata?.name} on node ${node}, will try to kill it`);
        toDelete.push(pod);
      }
      this.expectations.expect(key, plan.create.length, toDelete.length);
      let failure: string | undefined;
      const results = await Promise.allSettled(plan.create.map(n => c.create<Pod>(resources.pods, ns, daemonPod(ds, n, hash))));
      for (const r of results) {
        if (r.status === 'fulfilled') rec.event(owner, 'Normal', 'SuccessfulCreate', `Created pod: ${r.value.metadata?.name}`);
        else { failure = (r.reason as Error).message; this.expectations.observed(key, 'add'); }
      }
      if (failure) rec.event(owner, 'Warning', 'FailedCreate', `Error creating: ${failure}`);
      for (const p of toDelete) {
        try {
          await c.delete(resources.pods, ns, p.metadata?.name ?? '', { preconditions: { uid: p.metadata?.uid ?? '' } });
          rec.event(owner, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata?.name}`);
        } catch (err) {
          this.expectations.observed(key, 'del');
          if (!isNotFound(err)) throw err;
        }
      }
      if (failure) throw new Error(`creating daemon pods for "${key}" failed: ${failure}`);
    }
    if (JSON.stringify(plan.status) !== JSON.stringify(ds.status ?? {})) {
      await c.update(resources.daemonsets, { ...ds, status: plan.status } as KubeObject, { subresource: 'status' });
    }
    if (requeue !== undefined) this.controller.enqueueAfter(key, requeue);
  }
}

// The kubelet's Events, word for word as upstream's kubelet (v1.30) records them
// (pkg/kubelet/events, kuberuntime_container.go, images/image_manager.go, prober/prober.go,
// network/dns/dns.go, nodestatus/setters.go): reasons, types and message texts in one place, so
// `kubectl describe pod` reads the same as on any cluster. Pure; kubelet.ts and node.ts record
// them through the shared recorder (api/client/events.ts), which folds repeats into counts and
// rate-limits per object.
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../api/object.js';
import type { EventType } from '../api/client/events.js';
import type { ProbeKind } from './probes.js';

export interface KubeletEvent { type: EventType; reason: string; message: string }

/** The component every kubelet event names as its source. */
export const kubeletComponent = 'kubelet';

/** Where in the pod a container's events point (upstream's GenerateContainerRef). */
export function containerFieldPath(name: string, init: boolean): string {
  return `spec.${init ? 'initContainers' : 'containers'}{${name}}`;
}

/** Upstream's format.Pod: `name_namespace(uid)`. */
export function formatPod(pod: Pod): string {
  return `${pod.metadata?.name ?? ''}_${pod.metadata?.namespace ?? ''}(${pod.metadata?.uid ?? ''})`;
}

/** The pod as an involved object (the informer's pods carry no apiVersion/kind). */
export function podObject(pod: Pod): KubeObject {
  return { ...(pod as KubeObject), apiVersion: 'v1', kind: 'Pod' };
}

/** The kubelet's node reference: upstream uses the node name as its uid, and kubectl looks for that. */
export function nodeObject(nodeName: string): KubeObject {
  return { kind: 'Node', metadata: { name: nodeName, uid: nodeName } } as KubeObject;
}

/** Go's %q for the plain strings these messages quote. */
const q = (s: string) => JSON.stringify(s);

/** Go's time.Duration String() for whole milliseconds: 0s, 850ms, 1.5s, 2m3.25s, 1h0m0s. */
export function goDuration(ms: number): string {
  ms = Math.max(0, Math.floor(ms));
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const rest = ms % 60_000;
  const s = `${Math.floor(rest / 1000)}${rest % 1000 ? `.${String(rest % 1000).padStart(3, '0').replace(/0+$/, '')}` : ''}s`;
  if (h) return `${h}h${m}m${s}`;
  if (m) return `${m}m${s}`;
  return s;
}

const normal = (reason: string, message: string): KubeletEvent => ({ type: 'Normal', reason, message });
const warning = (reason: string, message: string): KubeletEvent => ({ type: 'Warning', reason, message });

const missingDns = 'kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.';

const probeName: Record<ProbeKind, string> = { liveness: 'Liveness', readiness: 'Readiness', startup: 'Startup' };

export const kubeletEvents = {
  pulling: (image: string) => normal('Pulling', `Pulling image ${q(image)}`),
  pulled: (image: string, pullMs: number, totalMs: number, sizeBytes?: number) =>
    normal('Pulled', `Successfully pulled image ${q(image)} in ${goDuration(pullMs)} (${goDuration(totalMs)} including waiting)${sizeBytes !== undefined ? `. Image size: ${sizeBytes} bytes.` : ''}`),
  alreadyPresent: (image: string) => normal('Pulled', `Container image ${q(image)} already present on machine`),
  failedPull: (image: string, err: string) => warning('Failed', `Failed to pull image ${q(image)}: ${err}`),
  backOffPull: (image: string) => normal('BackOff', `Back-off pulling image ${q(image)}`),
  neverPull: (image: string) => warning('ErrImageNeverPull', `Container image ${q(image)} is not present with pull policy of Never`),
  /** What the container runtime manager adds after any failure to get a container going. */
  error: (message: string) => warning('Failed', `Error: ${message}`),
  created: (name: string) => normal('Created', `Created container ${name}`),
  started: (name: string) => normal('Started', `Started container ${name}`),
  killing: (message: string) => normal('Killing', message),
  stopping: (name: string) => `Stopping container ${name}`,
  probeKill: (name: string, kind: ProbeKind) => `Container ${name} failed ${kind} probe, will be restarted`,
  unhealthy: (kind: ProbeKind, output: string) => warning('Unhealthy', `${probeName[kind]} probe failed: ${output}`),
  backOffRestart: (name: string, pod: Pod) => warning('BackOff', `Back-off restarting failed container ${name} in pod ${formatPod(pod)}`),
  failedPostStart: () => warning('FailedPostStartHook', 'PostStartHook failed'),
  failedPreStop: () => warning('FailedPreStopHook', 'PreStopHook failed'),
  failedMount: (message: string) => warning('FailedMount', message),
  failedSandbox: (err: string) => warning('FailedCreatePodSandBox', `Failed to create pod sandbox: ${err}`),
  missingClusterDNSNode: () => warning('MissingClusterDNS', missingDns),
  missingClusterDNSPod: (pod: Pod) => warning('MissingClusterDNS', `pod: ${q(formatPod(pod))}. ${missingDns}`),
  starting: () => normal('Starting', 'Starting kubelet.'),
  nodeStatus: (node: string, reason: string) => normal(reason, `Node ${node} status is now: ${reason}`),
};

// Pod templates inside workloads (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob):
// the one seam through which the non-core registry reaches the core group's pod rules
// (control/registry/core/podspec.ts), so every workload module depends on one small interface.
export { applyPodTemplateDefaults, validatePodTemplateSpec } from '../core/podspec.js';

// Pod templates inside workloads (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob):
// the one place the non-core registry reaches for pod defaulting and validation. The pod rules
// themselves belong to the core group (control/registry/core/pods.ts); this adapter keeps the
// template-specific parts (the `labels` path quirk, no ephemeral containers) and the fallback
// used until the core exports exist, so every workload module depends on one small interface.
import type { PodTemplateSpec, Container } from 'kubernetes-types/core/v1.js';
import { field, FieldPath, type FieldError } from '../../../api/errors.js';
import { validateAnnotations, validateLabels } from '../../../api/validation/meta.js';

/** Pod defaults applied to a template's spec, as upstream's SetDefaults_PodSpec and friends. */
export function applyPodTemplateDefaults(template: PodTemplateSpec | undefined): void {
  if (!template) return;
  const spec = (template.spec ??= { containers: [] });
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.securityContext ??= {};
  spec.schedulerName ??= 'default-scheduler';
  for (const c of spec.initContainers ?? []) defaultContainer(c);
  for (const c of spec.containers ?? []) defaultContainer(c);
}

function defaultContainer(c: Container): void {
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  if (c.imagePullPolicy === undefined) c.imagePullPolicy = pullPolicyFor(c.image ?? '');
  c.resources ??= {};
  for (const p of c.ports ?? []) p.protocol ??= 'TCP';
}

/** Always for `:latest` or untagged images, else IfNotPresent (digests count as tags). */
function pullPolicyFor(image: string): 'Always' | 'IfNotPresent' {
  if (image.includes('@')) return 'IfNotPresent';
  const lastSlash = image.lastIndexOf('/');
  const colon = image.indexOf(':', lastSlash + 1);
  if (colon < 0) return 'Always';
  return image.slice(colon + 1) === 'latest' ? 'Always' : 'IfNotPresent';
}

/** Upstream's ValidatePodTemplateSpec at `path` (e.g. `spec.template`). */
export function validatePodTemplateSpec(template: PodTemplateSpec | undefined, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const meta = template?.metadata ?? {};
  // Upstream validates template labels at `<path>.labels`, not `<path>.metadata.labels`.
  errs.push(...validateLabels(meta.labels, path.child('labels')));
  errs.push(...validateAnnotations(meta.annotations, path.child('annotations')));
  errs.push(...validatePodSpecFallback(template, path.child('spec')));
  if ((template?.spec?.ephemeralContainers ?? []).length > 0) {
    errs.push(field.forbidden(path.child('spec').child('ephemeralContainers').toString(), 'ephemeral containers not allowed in pod template'));
  }
  return errs;
}

const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];

function validatePodSpecFallback(template: PodTemplateSpec | undefined, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const spec = template?.spec;
  const containers = spec?.containers ?? [];
  if (containers.length === 0) errs.push(field.required(path.child('containers').toString()));
  const names = new Set<string>();
  containers.forEach((c, i) => {
    const p = path.child('containers').index(i);
    if (!c.name) errs.push(field.required(p.child('name').toString()));
    else if (names.has(c.name)) errs.push(field.duplicate(p.child('name').toString(), c.name));
    else names.add(c.name);
    if (!c.image) errs.push(field.required(p.child('image').toString()));
  });
  const rp = spec?.restartPolicy;
  if (rp !== undefined && !RESTART_POLICIES.includes(rp)) errs.push(field.notSupported(path.child('restartPolicy').toString(), rp, RESTART_POLICIES));
  return errs;
}

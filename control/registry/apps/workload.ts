// Validation pieces the apps workloads share, in upstream's order and words: the selector checks
// (required, well-formed, not empty) and the pod template checks of ReplicaSet-like controllers
// (the selector must match the template labels; pods must restart Always; no active deadline).
import type { PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import { field, type FieldPath, type FieldError } from '../../../api/errors.js';
import { isEverything, labelsMatch, tryFromMetaLabelSelector } from '../../../api/selectors.js';
import {
  GoValueFieldError, goLabelSelector, selectorMismatch, validateLabelSelector,
} from './common.js';
import { validatePodTemplateSpec } from './podtemplate.js';

/**
 * Upstream's selector block of ValidateReplicaSetSpec/ValidateDeploymentSpec/ValidateStatefulSetSpec:
 * required, valid, and not empty ("empty selector is invalid for <word>"; replicasets reuse the
 * deployment wording, as upstream does). A selector that cannot be converted gets `invalidDetail`.
 */
export function validateWorkloadSelector(sel: LabelSelector | undefined, path: FieldPath, word: string, invalidDetail = 'invalid label selector'): FieldError[] {
  const errs: FieldError[] = [];
  const selector = tryFromMetaLabelSelector(sel);
  if (!sel) {
    errs.push(field.required(path.toString()));
  } else {
    errs.push(...validateLabelSelector(sel, path));
    if (selector !== undefined && isEverything(selector)) errs.push(new GoValueFieldError(path.toString(), sel, goLabelSelector(sel), `empty selector is invalid for ${word}`));
  }
  if (selector === undefined) errs.push(new GoValueFieldError(path.toString(), sel, goLabelSelector(sel), invalidDetail));
  return errs;
}

/** `<template>.metadata.labels` must be selected by `sel` (skipped for an empty or unusable selector). */
export function validateSelectorMatchesTemplate(sel: LabelSelector | undefined, template: PodTemplateSpec | undefined, path: FieldPath): FieldError[] {
  const selector = tryFromMetaLabelSelector(sel);
  if (selector === undefined || isEverything(selector)) return [];
  const labels = template?.metadata?.labels;
  return labelsMatch(selector, labels) ? [] : [selectorMismatch(path, labels)];
}

/** Upstream's ValidatePodTemplateSpecForReplicaSet (used by Deployment and ReplicaSet). */
export function validateReplicaSetTemplate(sel: LabelSelector | undefined, template: PodTemplateSpec | undefined, path: FieldPath, kind = 'ReplicaSet'): FieldError[] {
  if (tryFromMetaLabelSelector(sel) === undefined) return [];
  if (!template) return [field.required(path.toString())];
  const errs = [...validateSelectorMatchesTemplate(sel, template, path)];
  errs.push(...validatePodTemplateSpec(template, path));
  errs.push(...restartAlwaysOnly(template, path));
  if (template.spec?.activeDeadlineSeconds !== undefined) {
    errs.push(field.forbidden(path.child('spec').child('activeDeadlineSeconds').toString(), `activeDeadlineSeconds in ${kind} is not Supported`));
  }
  return errs;
}

/** Long-running workloads only restart Always. */
export function restartAlwaysOnly(template: PodTemplateSpec | undefined, path: FieldPath): FieldError[] {
  const rp = template?.spec?.restartPolicy ?? '';
  return rp === 'Always' ? [] : [field.notSupported(path.child('spec').child('restartPolicy').toString(), rp, ['Always'])];
}

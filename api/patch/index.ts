// The PATCH types and server-side apply, as pure functions over plain JSON objects. The apiserver
// picks one by Content-Type:
//   application/json-patch+json            applyJsonPatch(live, body)
//   application/merge-patch+json           applyMergePatch(live, body)
//   application/strategic-merge-patch+json applyStrategicMergePatch(live, body, schemas, root)
//   application/apply-patch+yaml           applyPatch(live, body, manager, force, schemas, root, now)
// and, for every other write (create, update, the three patch types), records ownership with
// updateManagedFields(old, new, { manager, apiVersion, subresource, now, schemas, root, ignored }).
export { applyJsonPatch, decodeJsonPatch, escapePointerToken, parsePointer, type JsonPatchOperation } from './json-patch.js';
export { applyMergePatch, decodeMergePatch } from './merge-patch.js';
export { applyStrategicMergePatch } from './strategic.js';
export { applyPatch, beforeFirstApplyManager, conflictFields, lastAppliedAnnotation, type ApplyExtras } from './apply.js';
export {
  ancientChangesManager, capUpdateManagers, compareObjects, decodeManagedFields, decodeManagedFieldsStrict, encodeManagedFields, fieldSetOf,
  maxUpdateManagers, updateManagedFields, type ManagedFieldsEntry, type ManagerFields, type Managers, type UpdateOptions,
} from './managed-fields.js';
export { FieldSet, formatPath, keyElement } from './field-set.js';

/** The patch media types the apiserver accepts, as upstream names them. */
export const patchContentTypes = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

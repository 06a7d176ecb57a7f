// Adapts the pure patch functions (api/patch) to the seams of the REST layer: each PATCH type and
// managedFields tracking, with the kind's schema looked up from its ResourceDef. Fields a
// subresource resets are never recorded as owned (status on the main resource of kinds with a
// /status subresource, and everything but status on /status), as upstream's field manager does.
import { apiVersionOf, type KubeObject } from '../../api/object.js';
import { applyPatch } from '../../api/patch/apply.js';
import { applyJsonPatch } from '../../api/patch/json-patch.js';
import { updateManagedFields } from '../../api/patch/managed-fields.js';
import { applyMergePatch } from '../../api/patch/merge-patch.js';
import { applyStrategicMergePatch } from '../../api/patch/strategic.js';
import type { SchemaSet } from '../../api/schema/types.js';
import type { ResourceDef } from '../registry/types.js';
import type { Patcher } from './resource-handler.js';
import type { ManagedFieldsTracker } from './rest.js';

export function createPatcher(schemas: SchemaSet): Patcher {
  return {
    json: (current, patch) => applyJsonPatch(current, patch),
    merge: (current, patch) => applyMergePatch(current, patch),
    strategic: (current, patch, def) => applyStrategicMergePatch(current, patch, schemas, def.schemaName),
    apply: (live, applied, def, manager, force, now) =>
      applyPatch(live, applied, manager, force, schemas, def.schemaName, now, { ignored: def.hasStatusSubresource ? [['f:status']] : [] }),
  };
}

export function createManagedFieldsTracker(schemas: SchemaSet, defs: readonly ResourceDef[]): ManagedFieldsTracker {
  const byApiVersionKind = new Map(defs.map(d => [`${apiVersionOf(d)}/${d.kind}`, d]));
  return {
    update(old: KubeObject | undefined, obj: KubeObject, manager: string, apiVersion: string, subresource: string | undefined, now: Date): KubeObject {
      const def = byApiVersionKind.get(`${apiVersion}/${obj.kind ?? ''}`);
      const ignored = def?.hasStatusSubresource && !subresource ? [['f:status']] : [];
      return updateManagedFields(old, obj, { manager, apiVersion, now, schemas, root: def?.schemaName, ...(subresource ? { subresource } : {}), ignored });
    },
  };
}

// autoscaling/v1 HorizontalPodAutoscaler, served by conversion from the stored autoscaling/v2
// object (as upstream stores v2 and converts): `kubectl autoscale` still speaks v1. Defaulting,
// validation and printing are v2's, applied to the converted object, so the two versions can
// never disagree about what is valid.
import type * as v1 from 'kubernetes-types/autoscaling/v1.js';
import type * as v2 from 'kubernetes-types/autoscaling/v2.js';
import type { KubeObject } from '../../../api/object.js';
import type { ResourceDef } from '../types.js';
import { hpaFromV1, hpaToV1 } from './conversion.js';
import { horizontalpodautoscalers as v2def } from './horizontalpodautoscalers.js';

const toV2 = (obj: KubeObject): KubeObject => hpaFromV1(obj as unknown as v1.HorizontalPodAutoscaler) as unknown as KubeObject;
const toV1 = (obj: KubeObject): KubeObject => hpaToV1(obj as unknown as v2.HorizontalPodAutoscaler) as unknown as KubeObject;

/** Runs a v2 step on the v2 form of a v1 object and copies the result back into it. */
function viaV2(obj: KubeObject, step: (v2obj: KubeObject) => void): void {
  const converted = toV2(obj);
  step(converted);
  const back = toV1(converted);
  for (const key of Object.keys(obj)) delete obj[key];
  Object.assign(obj, back);
}

export const horizontalpodautoscalersV1: ResourceDef = {
  ...v2def,
  version: 'v1',
  schemaName: 'io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler',
  conversion: { storedVersion: 'v2', toStored: toV2, fromStored: toV1 },
  applyDefaults: (obj, ctx) => viaV2(obj, o => v2def.applyDefaults?.(o, ctx)),
  prepareForCreate: (obj, ctx) => viaV2(obj, o => v2def.prepareForCreate?.(o, ctx)),
  prepareForUpdate: (obj, old) => viaV2(obj, o => v2def.prepareForUpdate?.(o, toV2(old))),
  validate: (obj, ctx) => v2def.validate(toV2(obj), ctx),
  validateUpdate: (obj, old, ctx) => v2def.validateUpdate(toV2(obj), toV2(old), ctx),
  validateStatusUpdate: (obj, old, ctx) => (v2def.validateStatusUpdate ?? v2def.validateUpdate)(toV2(obj), toV2(old), ctx),
  tableRow: (obj, now) => v2def.tableRow(toV2(obj), now),
};
